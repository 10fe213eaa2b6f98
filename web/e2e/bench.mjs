// Benchmark (not a test): how long the editor takes to open a 200-node
// workflow and lay it out, in headless Chromium against the real binary.
// Measured from the click on the workflow's link to the moment all 200
// nodes are drawn on the canvas, five times; prints each and the median.
import { api, launchBrowser, newPage, registerUser, startServer } from './harness.mjs';
import { signIn } from './ui.mjs';

const N = 200;
const RUNS = 5;

function bigWorkflow() {
  // A layered DAG: 20 layers of 10, each node fed by two of the layer before.
  const agents = [];
  const edges = [];
  const width = 10;
  for (let i = 0; i < N; i++) {
    agents.push({ id: `n${i}`, type: 'transform', transform: { expression: i < width ? 'input' : `nodes.n${i - width}` } });
    if (i >= width) {
      edges.push({ from: `n${i - width}`, to: `n${i}` });
      const j = i - width + 1;
      if (j % width !== 0) edges.push({ from: `n${j}`, to: `n${i}` });
    }
  }
  return { name: 'Two hundred nodes', agents, edges, message: 'benchmark' };
}

const server = await startServer({ MAX_AGENTS_PER_WORKFLOW: String(N) });
const browser = await launchBrowser();
try {
  const token = await registerUser(server.base, { email: 'bench@example.com', password: 'benchmark passphrase', org: 'Bench' });
  const me = await api(server.base, 'GET', '/api/v1/auth/me', { token });
  server.run(['org', 'set-plan', me.organization.id, '--plan', 'enterprise', '--max-agents-per-workflow', String(N)]);
  const wf = await api(server.base, 'POST', '/api/v1/workflows', { token, body: bigWorkflow() });
  const { page } = await newPage(browser, server.base, { width: 1400, height: 900 });
  await signIn(page, 'bench@example.com', 'benchmark passphrase');
  await page.waitForURL(/\/workflows$/);
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    await page.getByRole('link', { name: 'Workflows', exact: true }).click();
    await page.getByRole('link', { name: 'Two hundred nodes' }).waitFor();
    const t0 = await page.evaluate(() => performance.now());
    await page.getByRole('link', { name: 'Two hundred nodes' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('.react-flow__node').length === n, N, { polling: 'raf', timeout: 60_000 });
    const t1 = await page.evaluate(() => performance.now());
    times.push(t1 - t0);
    console.log(`run ${r + 1}: ${(t1 - t0).toFixed(0)} ms${r === 0 ? ' (first: loads the editor chunk)' : ''}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`open and lay out ${N} nodes (${wf.edges.length} edges): median ${sorted[Math.floor(RUNS / 2)].toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[RUNS - 1].toFixed(0)} ms`);
} finally {
  await browser.close();
  await server.stop();
}
