// 2. A validation problem appears on the right node and field; a 409 from
// a second tab is offered (their changes, reload), never overwritten.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, launchBrowser, newPage, registerUser, screenshot, startServer } from './harness.mjs';
import { signIn, visit, workflowBody } from './ui.mjs';

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('422 problems land on their node; a conflict is offered, not overwritten', async (t) => {
  const password = 'correct horse battery';
  const token = await registerUser(server.base, { email: 'grace@example.com', password, org: 'Hopper Labs' });
  const wf = await api(server.base, 'POST', '/api/v1/workflows', { token, body: workflowBody('Greeter') });

  const a = await newPage(browser, server.base);
  t.after(() => screenshot(a.page, 'failure-problems').catch(() => {}));
  a.expectStatus(422, 409);
  await signIn(a.page, 'grace@example.com', password);
  await a.page.waitForURL(/\/workflows$/);
  await visit(a.page, `/workflows/${wf.id}`);
  await a.page.getByTestId('node-greet').click();
  const model = a.page.getByRole('combobox', { name: 'Model' });
  await model.fill('nonsense');
  await a.page.keyboard.press('Escape');
  await a.page.getByRole('button', { name: 'Save' }).click();
  await a.page.locator('[data-testid="node-greet"][data-problem="true"]').waitFor();
  assert.equal(await a.page.locator('[data-testid="node-shout"]').getAttribute('data-problem'), 'false');
  await a.page.getByTestId('node-form').getByText('provider:model').first().waitFor();
  await screenshot(a.page, 'editor-problem');

  // A second tab (another sign-in) saves first.
  await model.fill('mock:echo');
  await a.page.keyboard.press('Escape');
  const b = await newPage(browser, server.base);
  await signIn(b.page, 'grace@example.com', password);
  await b.page.waitForURL(/\/workflows$/);
  await visit(b.page, `/workflows/${wf.id}`);
  await b.page.getByRole('tab', { name: 'Workflow' }).click();
  await b.page.getByRole('textbox', { name: 'Description' }).fill('Saved from the other tab');
  await b.page.getByRole('button', { name: 'Save' }).click();
  await b.page.getByText('Saved as version 2').waitFor();

  await a.page.getByRole('button', { name: 'Save' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'Someone else saved this workflow' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Show their changes' }).click();
  await dialog.getByText('description changed').waitFor();
  await screenshot(a.page, 'editor-conflict');
  const now = await api(server.base, 'GET', `/api/v1/workflows/${wf.id}`, { token });
  assert.equal(now.version, 2);
  assert.equal(now.description, 'Saved from the other tab');

  await dialog.getByRole('button', { name: 'Discard mine and reload' }).click();
  await a.page.getByText('v2', { exact: true }).waitFor();
  a.check();
  b.check();
});
