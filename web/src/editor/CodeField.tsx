import { useEffect, useId, useRef } from 'react';
import { Input } from '@mantine/core';
import { EditorState, Compartment } from '@codemirror/state';
import { EditorView, keymap, placeholder as cmPlaceholder } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { autocompletion, completionKeymap, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';

export interface TemplateScope {
  inputs: string[];
  nodes: string[];
}

/**
 * templateCompletions completes Go-template references inside {{ }}:
 * `.input.<field>` from the input schema and `.nodes.<id>` of upstream nodes.
 */
export function templateCompletions(scope: () => TemplateScope) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = line.text.slice(0, ctx.pos - line.from);
    const open = before.lastIndexOf('{{');
    if (open < 0 || before.indexOf('}}', open) >= 0) return null;
    const m = /\.(input|nodes)\.([\w-]*)$/.exec(before) ?? /(\.)([\w]*)$/.exec(before);
    if (!m) return ctx.explicit ? { from: ctx.pos, options: roots() } : null;
    const s = scope();
    if (m[1] === 'input') return { from: ctx.pos - m[2]!.length, options: s.inputs.map((f) => ({ label: f, type: 'property', detail: 'input' })) };
    if (m[1] === 'nodes') return { from: ctx.pos - m[2]!.length, options: s.nodes.map((n) => ({ label: n, type: 'variable', detail: 'upstream node' })) };
    return { from: ctx.pos - m[2]!.length, options: roots() };
  };
  function roots() {
    return [
      { label: 'input.', type: 'namespace', detail: 'execution input' },
      { label: 'nodes.', type: 'namespace', detail: 'upstream outputs' },
    ];
  }
}

/** CodeField is a CodeMirror 6 text field with template completions, for prompts, templates and expressions. */
export function CodeField({
  label,
  value,
  onChange,
  scope,
  error,
  description,
  readOnly,
  placeholder,
  minLines = 1,
  testId,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  scope?: TemplateScope;
  error?: string;
  description?: string;
  readOnly?: boolean;
  placeholder?: string;
  minLines?: number;
  testId?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  const scopeRef = useRef<TemplateScope>(scope ?? { inputs: [], nodes: [] });
  const ro = useRef(new Compartment());
  onChangeRef.current = onChange;
  scopeRef.current = scope ?? { inputs: [], nodes: [] };
  const labelId = useId();

  useEffect(() => {
    // CodeMirror mounts its styles as a <style> element in a document, which
    // the Content-Security-Policy refuses; in a shadow root it uses a
    // constructed stylesheet instead. CSS variables (the theme) inherit
    // into it.
    const el = host.current!;
    const shadow = el.shadowRoot ?? el.attachShadow({ mode: 'open' });
    const v = new EditorView({
      parent: shadow,
      root: shadow,
      state: EditorState.create({
        doc: value,
        extensions: [
          history(),
          keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap]),
          autocompletion({ override: [templateCompletions(() => scopeRef.current)], activateOnTyping: true }),
          EditorView.lineWrapping,
          cmPlaceholder(placeholder ?? ''),
          // A label's id cannot be referenced across the shadow boundary.
          EditorView.contentAttributes.of({ 'aria-label': label, 'aria-multiline': 'true', ...(testId ? { 'data-testid': testId } : {}) }),
          EditorView.theme({
            '&': { color: 'var(--mantine-color-text)', backgroundColor: 'var(--mantine-color-body)', fontSize: '13px' },
            '&.cm-focused': { outline: 'none' },
            '.cm-content': { minHeight: `${minLines * 1.4}em`, padding: '6px 4px', caretColor: 'var(--mantine-color-text)', fontFamily: 'var(--mantine-font-family-monospace)' },
            '.cm-placeholder': { color: 'var(--mantine-color-dimmed)' },
            '.cm-tooltip': { backgroundColor: 'var(--mantine-color-body)', color: 'var(--mantine-color-text)', border: '1px solid var(--mantine-color-default-border)' },
            '.cm-tooltip-autocomplete ul li[aria-selected]': { backgroundColor: 'var(--mantine-color-blue-filled)', color: 'white' },
          }),
          ro.current.of([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChangeRef.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // The editor is created once; value and readOnly changes are applied below.
  }, []);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({ effects: ro.current.reconfigure([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]) });
  }, [readOnly]);

  return (
    <Input.Wrapper label={label} labelProps={{ id: labelId }} error={error} description={description}>
      <div ref={host} className="cm-field" />
    </Input.Wrapper>
  );
}
