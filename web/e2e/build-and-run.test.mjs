// 1. Register, build transform → llm(mock) on the canvas by UI actions
// only, save, run from the form, watch both nodes complete live, see
// tokens and cost, and find the run in the history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, screenshot, startServer } from './harness.mjs';
import { connectNodes, typeInCode } from './ui.mjs';

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('register, build on the canvas, run and watch it live', async (t) => {
  const { page, check } = await newPage(browser, server.base);
  t.after(() => screenshot(page, 'failure-build-and-run').catch(() => {}));
  await page.goto('/');
  await page.waitForURL(/\/sign-in/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await screenshot(page, 'sign-in');

  await page.getByRole('link', { name: 'Create one' }).click();
  await page.getByLabel('E-mail').fill('ada@example.com');
  await page.getByLabel('Username').fill('ada');
  await page.getByLabel('Full name').fill('Ada Lovelace');
  await page.getByLabel('Organization').fill('Engines Ltd');
  await page.getByRole('textbox', { name: 'Password' }).fill('a long passphrase of hers');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/\/workflows$/);
  await page.getByText('No workflows yet').waitFor();

  await page.getByRole('link', { name: 'New workflow' }).click();
  await page.waitForURL(/\/workflows\/new$/);

  // The input: one required field, "name".
  await page.getByRole('tab', { name: 'Workflow' }).click();
  await page.getByRole('textbox', { name: /^Name/ }).fill('Greeter');
  await page.getByRole('button', { name: 'Add field' }).click();
  await page.getByRole('textbox', { name: 'Field' }).fill('name');
  await page.getByLabel('Required').check();

  // transform → llm on mock.
  await page.getByRole('button', { name: '+ Transform' }).click();
  await typeInCode(page, 'field-transform-expression', 'upper(input.name)');
  await page.getByRole('button', { name: '+ LLM' }).click();
  await connectNodes(page, 'transform_1', 'llm_1');
  await page.getByTestId('node-llm_1').click();
  await typeInCode(page, 'field-llm-prompt', 'Hello {{ .nodes.transform_1 }}!');
  assert.equal(await page.getByRole('combobox', { name: 'Model' }).inputValue(), 'mock:echo');
  await page.getByLabel('Version message').fill('First version');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/workflows\/wf_/);
  await page.getByText('v1', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Zoom to fit' }).click();
  await screenshot(page, 'editor');

  await page.getByRole('button', { name: 'Run' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('name').fill('ada');
  await dialog.getByRole('button', { name: 'Start run' }).click();
  await page.waitForURL(/\/executions\/exe_/);
  const exeId = page.url().split('/').pop();

  for (const id of ['transform_1', 'llm_1']) {
    await page.locator(`[data-testid="run-node-${id}"][data-state="completed"]`).waitFor({ timeout: 20_000 });
  }
  await page.locator('[data-testid="run-status"]', { hasText: 'succeeded' }).waitFor();
  const tokensIn = Number(await page.getByTestId('tokens-in').innerText());
  assert.ok(tokensIn > 0, `tokens in: ${tokensIn}`);
  assert.match(await page.getByTestId('cost').innerText(), /^\$\d/);
  await page.getByTestId('run-node-llm_1').click();
  await page.getByTestId('node-detail').getByText('mock:echo').waitFor();
  await page.getByTestId('node-detail').getByText('Hello ADA!').first().waitFor();
  await screenshot(page, 'live-run');
  await page.getByRole('button', { name: 'Switch to dark mode' }).click();
  await page.locator('html[data-mantine-color-scheme="dark"]').waitFor();
  await screenshot(page, 'live-run-dark');
  await page.getByRole('button', { name: 'Switch to light mode' }).click();

  await page.getByRole('link', { name: 'Executions' }).click();
  await page.getByRole('link', { name: exeId }).waitFor();
  await screenshot(page, 'history');
  await page.getByRole('link', { name: 'Workflows' }).click();
  await page.getByRole('link', { name: 'Greeter' }).waitFor();
  await screenshot(page, 'workflows');

  // Usable at 400 px: the list and the run view.
  await page.setViewportSize({ width: 400, height: 800 });
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('link', { name: 'Executions' }).click();
  await screenshot(page, 'history-400px');
  await page.getByRole('link', { name: exeId }).click();
  await page.locator('[data-testid="run-status"]', { hasText: 'succeeded' }).waitFor();
  await screenshot(page, 'live-run-400px');
  check();
});
