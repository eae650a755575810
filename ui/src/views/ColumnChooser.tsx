import { useMemo, useState } from 'react';

import type { ColRef, Keys } from '../preload.ts';

export type { ColRef };

/** Shows at most this many keys per section: an experiment with 12,000 metric keys stays instant; search narrows it. */
const SHOWN = 100;

export function ColumnChooser({ keys, chosen, onChange, onClose }: { keys: Keys; chosen: ColRef[]; onChange(c: ColRef[]): void; onClose(): void }) {
  const [q, setQ] = useState('');
  const isOn = useMemo(() => new Set(chosen.map((c) => `${c.kind}\n${c.key}`)), [chosen]);
  const toggle = (c: ColRef) => onChange(isOn.has(`${c.kind}\n${c.key}`) ? chosen.filter((x) => x.kind !== c.kind || x.key !== c.key) : [...chosen, c]);
  const needle = q.toLowerCase();
  return (
    <div className="chooser" role="dialog" aria-label="Choose columns" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <div className="row">
        <label>Search keys <input type="search" autoFocus value={q} onChange={(e) => setQ(e.target.value)} /></label>
        <button type="button" onClick={onClose}>Done</button>
      </div>
      {(['metrics', 'params', 'tags'] as const).map((kind) => {
        const all = keys[kind].filter((k) => k.key.toLowerCase().includes(needle));
        return (
          <fieldset key={kind} style={{ border: 0, padding: 0, marginTop: '.5rem' }}>
            <legend><strong>{kind[0]!.toUpperCase() + kind.slice(1)}</strong> <span className="muted">({all.length.toLocaleString('en-US')})</span></legend>
            {all.slice(0, SHOWN).map((k) => (
              <div key={k.key}><label><input type="checkbox" checked={isOn.has(`${kind}\n${k.key}`)} onChange={() => toggle({ kind, key: k.key })} /> {k.key} <span className="muted">({k.count})</span></label></div>
            ))}
            {all.length > SHOWN && <p className="muted">{(all.length - SHOWN).toLocaleString('en-US')} more: type to narrow.</p>}
          </fieldset>
        );
      })}
    </div>
  );
}
