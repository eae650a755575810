// The MLflow filter box with suggestions as you type: keys (attributes, and the experiment's metrics, params and
// tags), then operators after a key, then `and` after a value. WAI-ARIA combobox pattern (1.2, list autocomplete):
// the input keeps focus, ↓/↑ move through the options (aria-activedescendant), Enter or Tab takes one, Escape closes.
import { useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { Keys } from '../preload.ts';

const ATTRIBUTES = ['run_name', 'status', 'start_time', 'end_time', 'user_id', 'run_id', 'artifact_uri'];
const NUMERIC_OPS = ['=', '!=', '>', '>=', '<', '<='];
const STRING_OPS = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];
/** Options shown at once: 12,000 metric keys stay instant; typing narrows them. */
const SHOWN = 12;

interface Option { text: string; kind: string; hint?: string }

const quoteKey = (k: string) => (/^[A-Za-z_][\w.\-/]*$/.test(k) ? k : '`' + k.replace(/`/g, '``') + '`');

/** What the word before the caret is: a key being typed, an operator slot after a key, or `and` after a value. */
function context(before: string): { word: string; slot: 'key' | 'op' | 'value' | 'and'; key?: string } {
  const m = /(\S*)$/.exec(before)!;
  const word = m[1]!;
  const rest = before.slice(0, before.length - word.length).trimEnd();
  // tokens so far, with quoted strings and backquoted keys kept whole
  const tokens = rest.match(/`(?:[^`]|``)*`|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\([^)]*\)|[<>!=]=?|[^\s<>!=]+/g) ?? [];
  const last = tokens[tokens.length - 1];
  if (!last || /^and$/i.test(last)) return { word, slot: 'key' };
  if (/^([<>!=]=?|like|ilike|in|not)$/i.test(last)) return { word, slot: 'value' };
  if (/^(metrics|params|tags|attributes|attribute|attr|metric|param|tag|run|datasets?)\./i.test(last)) return { word, slot: 'op', key: last };
  return { word, slot: 'and' };
}

export function suggestions(before: string, keys: Keys | undefined): Option[] {
  const c = context(before);
  const w = c.word.toLowerCase();
  if (c.slot === 'op') {
    const numeric = /^metrics?\./i.test(c.key!) || /^(attributes?|attr|run)\.(start_time|end_time)$/i.test(c.key!);
    return (numeric ? NUMERIC_OPS : STRING_OPS).filter((o) => o.toLowerCase().startsWith(w)).map((o) => ({ text: o, kind: 'operator' }));
  }
  if (c.slot === 'value') return [];
  if (c.slot === 'and') return 'and'.startsWith(w) && w !== 'and' ? [{ text: 'and', kind: 'keyword' }] : [];
  const out: Option[] = [];
  const add = (prefix: string, kind: string, list: { key: string; count?: number }[]) => {
    for (const k of list) {
      if (out.length >= SHOWN * 4) return;
      const text = `${prefix}.${quoteKey(k.key)}`;
      if (text.toLowerCase().includes(w)) out.push({ text, kind, hint: k.count === undefined ? undefined : `${k.count} runs` });
    }
  };
  add('metrics', 'metric', keys?.metrics ?? []);
  add('params', 'param', keys?.params ?? []);
  add('tags', 'tag', keys?.tags ?? []);
  add('attributes', 'attribute', ATTRIBUTES.map((key) => ({ key })));
  // prefix matches first (typing "met" lists metrics, "acc" lists keys starting with acc), then the rest
  const starts = (o: Option) => o.text.toLowerCase().startsWith(w) || o.text.toLowerCase().split('.').slice(1).join('.').startsWith(w);
  return [...out.filter(starts), ...out.filter((o) => !starts(o))].slice(0, SHOWN);
}

export function FilterBox({ value, onChange, keys, invalid, describedBy }: { value: string; onChange(v: string): void; keys: Keys | undefined; invalid: boolean; describedBy?: string }) {
  const id = useId();
  const listId = `${id}-list`;
  const input = useRef<HTMLInputElement>(null);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [caret, setCaret] = useState(value.length);
  const options = useMemo(() => suggestions(value.slice(0, caret), keys), [value, caret, keys]);
  const shown = open && options.length > 0;

  // the caret to put back once React has written the new value (a value set by code moves the caret to the end)
  const pendingCaret = useRef<number | undefined>(undefined);
  useLayoutEffect(() => {
    if (pendingCaret.current !== undefined && input.current) input.current.setSelectionRange(pendingCaret.current, pendingCaret.current);
    pendingCaret.current = undefined;
  });
  function take(o: Option) {
    // the live text and caret, not the last render's: keys typed right after Enter must not be lost
    const el = input.current!;
    const text = el.value;
    const at = el.selectionStart ?? text.length;
    const before = text.slice(0, at);
    const word = /(\S*)$/.exec(before)![1]!;
    const head = before.slice(0, before.length - word.length) + o.text + ' ';
    const next = head + text.slice(at).replace(/^\S*/, '').trimStart();
    el.value = next;
    el.setSelectionRange(head.length, head.length);
    pendingCaret.current = head.length;
    onChange(next);
    setCaret(head.length);
    setActive(-1);
  }
  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (!open) { setOpen(true); setActive(options.length ? 0 : -1); return; }
      setActive((a) => (options.length ? (a + 1) % options.length : -1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => (options.length ? (a <= 0 ? options.length - 1 : a - 1) : -1));
    } else if (e.key === 'Escape') {
      if (shown) { e.preventDefault(); setOpen(false); setActive(-1); }
    } else if ((e.key === 'Enter' || (e.key === 'Tab' && !e.shiftKey)) && shown && active >= 0) {
      // Enter without a chosen option submits the form (applies the filter)
      e.preventDefault();
      take(options[active]!);
    }
  }
  return (
    <div className="combo" style={{ flex: 1, minWidth: '20rem' }}>
      <input id="filter" ref={input} role="combobox" aria-autocomplete="list" aria-expanded={shown} aria-controls={listId}
        aria-activedescendant={shown && active >= 0 ? `${listId}-${active}` : undefined} autoComplete="off" spellCheck={false}
        value={value} placeholder={'metrics.accuracy > 0.9 and params.model = "cnn"'}
        aria-describedby={describedBy} aria-invalid={invalid || undefined}
        onChange={(e) => { onChange(e.target.value); setCaret(e.target.selectionStart ?? e.target.value.length); setOpen(true); setActive(-1); }}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? value.length)}
        onKeyDown={onKeyDown} onBlur={() => { setOpen(false); setActive(-1); }} />
      <ul id={listId} role="listbox" aria-label="Suggestions" className="combo-list" hidden={!shown}>
        {shown && options.map((o, i) => (
          <li key={o.text} id={`${listId}-${i}`} role="option" aria-selected={i === active}
            onMouseDown={(e) => { e.preventDefault(); take(o); }}>
            <span>{o.text}</span> <span className="muted">{o.kind}{o.hint ? ` · ${o.hint}` : ''}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
