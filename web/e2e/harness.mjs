// End-to-end harness: builds the real superagent binary, runs `serve` on a
// fresh SQLite file and a free port, and drives Debian's Chromium through
// playwright-core. Every page fails its test on a console error or
// warning, an uncaught exception, or a request to any other host.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

export const repo = resolve(new URL('../..', import.meta.url).pathname);
export const shotsDir = resolve(repo, 'web/e2e/screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

let binPromise;
/** binary builds the superagent binary once per run (or uses SUPERAGENT_BIN). */
export function binary() {
  if (process.env.SUPERAGENT_BIN) return Promise.resolve(process.env.SUPERAGENT_BIN);
  binPromise ??= new Promise((res, rej) => {
    const out = join(mkdtempSync(join(tmpdir(), 'sa-e2e-bin-')), 'superagent');
    const p = spawn('go', ['build', '-o', out, './cmd/superagent'], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`go build exited ${code}`))));
  });
  return binPromise;
}

/** startServer runs `superagent serve` on a fresh database; stop() ends it. */
export async function startServer(extraEnv = {}) {
  const bin = await binary();
  const dir = mkdtempSync(join(tmpdir(), 'sa-e2e-'));
  const logPath = join(dir, 'serve.log');
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dir,
    ENVIRONMENT: 'development',
    DATABASE_URL: `sqlite://${join(dir, 'superagent.db')}`,
    PASSWORD_HASH_PROFILE: 'test',
    PASSWORD_HASH_HELPERS: 'false',
    AUTH_RATE_LIMIT_PER_MINUTE: '1000',
    API_RATE_LIMIT_PER_MINUTE: '100000',
    LOG_FORMAT: 'text',
    ...extraEnv,
  };
  const run = (args, input) => execFileSync(bin, args, { cwd: dir, env, encoding: 'utf8', input });
  const log = createWriteStream(logPath);
  // Port 0: serve binds a free port itself and prints it in its banner,
  // printed only once the port is bound, so no other process can be the
  // one answering.
  const proc = spawn(bin, ['serve', '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let banner = '';
  proc.stdout.on('data', (b) => (banner += b));
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  let base = '';
  const exited = new Promise((r) => proc.on('exit', r));
  for (let i = 0; ; i++) {
    base ||= /Health:\s+(http:\/\/[\d.]+:\d+)\/health/.exec(banner)?.[1] ?? '';
    try {
      if (base && (await fetch(`${base}/ready`)).ok) break;
    } catch {
      // not ready yet
    }
    if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}:\n${readFileSync(logPath, 'utf8')}`);
    if (i > 600) throw new Error('serve did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // The binary serves the embedded UI at / once web/embed.go is wired into
  // serve; a binary without it still answers the API, and the committed
  // build is then served beside it with the same strict CSP (devproxy.mjs).
  let proxy;
  const home = await fetch(`${base}/`).then(async (r) => (r.ok ? r.text() : ''), () => '');
  if (!home.includes('<div id="root">')) {
    const { devProxy } = await import('./devproxy.mjs');
    proxy = await devProxy(resolve(repo, 'web/dist'), base);
    base = proxy.base;
  }
  return {
    base,
    dir,
    run,
    log: () => readFileSync(logPath, 'utf8'),
    async stop() {
      proxy?.close();
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** launchBrowser starts Chromium once per test file. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * newPage opens a page that records every console error or warning, page
 * error and request to another origin; call check() at the end of a test.
 */
export async function newPage(browser, base, { width = 1400, height = 900, context } = {}) {
  const ctx = context ?? (await browser.newContext({ viewport: { width, height }, baseURL: base }));
  const page = await ctx.newPage();
  const problems = [];
  const origin = new URL(base).origin;
  // Chromium logs every 4xx answer as a console error ("Failed to load
  // resource"). An API 4xx the test provokes on purpose (a 422, a 409, a
  // 404 for another tenant's object) is allowed only when the test says so
  // with expectStatus(); anything else fails.
  const expected = new Set();
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const st = /Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
    if (st && expected.has(Number(st[1]))) return;
    problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (new URL(u).origin !== origin) problems.push(`request to another host: ${u}`);
  });
  return {
    page,
    context: ctx,
    problems,
    expectStatus(...codes) {
      for (const c of codes) expected.add(c);
    },
    check() {
      if (problems.length) throw new Error(`browser problems:\n${problems.join('\n')}`);
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: false });
}

/** api calls the server as a plain HTTP client (for setting up, never for what the test proves). */
export async function api(base, method, path, { token, body } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return data;
}

export async function registerUser(base, { email, password, org, username }) {
  await api(base, 'POST', '/api/v1/auth/register', {
    body: { email, password, username: username ?? email.split('@')[0], full_name: username ?? 'E2E', organization_name: org },
  });
  const t = await api(base, 'POST', '/api/v1/auth/login', { body: { username: email, password } });
  return t.access_token;
}

/** totp computes an RFC 6238 code (SHA-1, 6 digits, 30 s) from a base32 secret. */
export function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

export function haveChromium() {
  return existsSync(CHROMIUM);
}
