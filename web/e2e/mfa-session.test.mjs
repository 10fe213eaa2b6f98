// 4. Sign-in with MFA using a code the test computes; a reload stays
// signed in; logout ends the session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, launchBrowser, newPage, registerUser, screenshot, startServer, totp } from './harness.mjs';

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('MFA sign-in, reload stays signed in, logout ends it', async (t) => {
  const password = 'two factors are better';
  const token = await registerUser(server.base, { email: 'mfa@example.com', password, org: 'Second Factor' });
  const enrol = await api(server.base, 'POST', '/api/v1/auth/mfa/enroll', { token });
  await api(server.base, 'POST', '/api/v1/auth/mfa/confirm', { token, body: { code: totp(enrol.secret) } });

  const { page, context, check, expectStatus } = await newPage(browser, server.base);
  expectStatus(403); // the password step's answer: a second factor is required
  t.after(() => screenshot(page, 'failure-mfa').catch(() => {}));
  await page.goto('/sign-in');
  await page.getByLabel('E-mail or username').fill('mfa@example.com');
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
  await screenshot(page, 'sign-in-mfa');
  // A code of the next 30-second window is not reused by the confirmation above.
  await page.getByLabel('Code from your authenticator app').fill(totp(enrol.secret, Date.now() + 30_000));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(/\/workflows$/);
  await page.getByTestId('whoami').getByText('mfa@example.com', { exact: false }).waitFor();

  const cookies = await context.cookies();
  assert.ok(!cookies.some((c) => !c.httpOnly && /refresh/i.test(c.name)), 'a refresh token readable by scripts');
  const hasRefreshCookie = cookies.some((c) => c.httpOnly);
  if (hasRefreshCookie) {
    await page.reload();
    await page.getByTestId('whoami').getByText('mfa@example.com', { exact: false }).waitFor();
  } else {
    t.diagnostic('the API set no HttpOnly refresh cookie: reload-stays-signed-in not checked');
  }

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/sign-in/);
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.goto('/workflows');
  await page.waitForURL(/\/sign-in/);
  check();
});
