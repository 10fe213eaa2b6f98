// 3. A viewer sees the workflow read-only with no Run button; another
// organization's workflow URL shows "not found".
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

test('a viewer reads without editing; another tenant is not found', async (t) => {
  const admin = await registerUser(server.base, { email: 'owner@one.example', password: 'first org passphrase', org: 'One' });
  const mine = await api(server.base, 'POST', '/api/v1/workflows', { token: admin, body: workflowBody('Ours') });
  const me = await api(server.base, 'GET', '/api/v1/auth/me', { token: admin });
  server.run(['user', 'create', '--email', 'viewer@one.example', '--org', me.organization.id, '--role', 'viewer', '--password-stdin'], 'viewer passphrase 1\n');
  const other = await registerUser(server.base, { email: 'owner@two.example', username: 'owner2', password: 'second org passphrase', org: 'Two' });
  const theirs = await api(server.base, 'POST', '/api/v1/workflows', { token: other, body: workflowBody('Theirs') });

  const { page, check, expectStatus } = await newPage(browser, server.base);
  t.after(() => screenshot(page, 'failure-viewer').catch(() => {}));
  expectStatus(404);
  await signIn(page, 'viewer@one.example', 'viewer passphrase 1');
  await page.waitForURL(/\/workflows$/);
  assert.equal(await page.getByRole('link', { name: 'New workflow' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Import' }).count(), 0);
  await page.getByRole('link', { name: 'Ours' }).click();
  await page.getByText('read-only').waitFor();
  await page.getByTestId('node-greet').click();
  await page.getByTestId('node-form').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Run' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Save' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Delete node' }).count(), 0);
  assert.ok(await page.getByRole('button', { name: '+ LLM' }).isDisabled());
  assert.equal(await page.getByRole('combobox', { name: 'Model' }).getAttribute('readonly'), '');
  await screenshot(page, 'editor-viewer');
  assert.ok(mine.id);

  await visit(page, `/workflows/${theirs.id}`);
  await page.getByRole('alert').getByText('Not found', { exact: true }).waitFor();
  await screenshot(page, 'not-found');
  check();
});
