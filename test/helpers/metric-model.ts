/**
 * A run's latest_metrics and metric_rollups rows as computed here, in plain JS, from its stored points: what the
 * server's merged upserts must have written (db/metric-rows.ts, db/rollups.ts). Rollup levels as in migration 007.
 */
const LEVELS = [5, 10, 15, 20];

export interface Point {
  key: string;
  step: number;
  timestamp: number;
  value: number;
}

/** Rows sorted as the tests read them back: latest by key, rollups by (key, lvl, bucket). */
export function derivedRows(points: Point[]) {
  const order = (a: Point, b: Point) => a.step - b.step || a.timestamp - b.timestamp || a.value - b.value;
  const byKey = new Map<string, Point[]>();
  for (const m of points) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
  const latest = [...byKey].map(([key, ms]) => {
    const top = [...ms].sort(order).at(-1)!;
    return { key, value: top.value, timestamp: top.timestamp, step: top.step, is_nan: 0 };
  }).sort((a, b) => a.key.localeCompare(b.key));
  const rollups: Record<string, unknown>[] = [];
  for (const [key, ms] of byKey) {
    for (const lvl of LEVELS) {
      const buckets = new Map<number, Point[]>();
      for (const m of ms) {
        const b = Math.floor(m.step / 2 ** lvl);
        buckets.set(b, [...(buckets.get(b) ?? []), m]);
      }
      for (const [bucket, pts] of buckets) {
        const sorted = [...pts].sort(order);
        const f = sorted[0]!;
        const l = sorted.at(-1)!;
        rollups.push({
          key, lvl, bucket, n: pts.length, vmin: Math.min(...pts.map((p) => p.value)), vmax: Math.max(...pts.map((p) => p.value)),
          first_step: f.step, first_ts: f.timestamp, first_value: f.value, last_step: l.step, last_ts: l.timestamp, last_value: l.value,
        });
      }
    }
  }
  rollups.sort((a: any, b: any) => a.key.localeCompare(b.key) || a.lvl - b.lvl || a.bucket - b.bucket);
  return { latest, rollups };
}
