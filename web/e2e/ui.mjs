// UI actions shared by the end-to-end tests.

/** typeInCode types into a CodeMirror field, as a person would, and closes any completion list. */
export async function typeInCode(page, testId, text) {
  const field = page.getByTestId(testId);
  await field.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Escape');
}

/** connectNodes drags from one node's output handle to another's input handle. */
export async function connectNodes(page, from, to) {
  const src = page.locator(`[data-testid="node-${from}"] .react-flow__handle-right`);
  const dst = page.locator(`[data-testid="node-${to}"] .react-flow__handle-left`);
  const a = await src.boundingBox();
  const b = await dst.boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

/** signIn fills the sign-in form. */
export async function signIn(page, username, password) {
  await page.goto('/sign-in');
  await page.getByLabel('E-mail or username').fill(username);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** visit moves the app to a path the way a link does (the in-memory session stays). */
export async function visit(page, path) {
  // The signed-in shell must be up: the sign-in screen redirects once more as it goes.
  await page.getByTestId('whoami').waitFor({ state: 'attached' });
  await page.evaluate((p) => {
    history.pushState({}, '', p);
    dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}

/** workflowBody is a transform → llm(mock) workflow, as the API takes it. */
export function workflowBody(name) {
  return {
    name,
    message: 'set up by the test',
    agents: [
      { id: 'shout', type: 'transform', transform: { expression: 'upper(input.name)' } },
      { id: 'greet', type: 'llm', llm: { model: 'mock:echo', prompt: 'Hello {{ .nodes.shout }}!' } },
    ],
    edges: [{ from: 'shout', to: 'greet' }],
    input_schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  };
}
