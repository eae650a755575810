/**
 * The wire and storage codecs every layer shares: int64 values (JSON numbers that keep every digit) and metric
 * values (NaN and ±Infinity, which neither database stores in a DOUBLE). The bottom layer: imports nothing of mltrack.
 */

/** An int64: a number while it is a safe integer, a BigInt beyond 2^53. */
export type Int64 = number | bigint;

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** A BigInt as a number when that loses nothing, else unchanged: the one "safe integer, else BigInt" rule. */
export function fromBigInt(b: bigint): Int64 {
  return b >= SAFE_MIN && b <= SAFE_MAX ? Number(b) : b;
}

/** An int64 from a number, a digit string or a BigInt. */
export function toInt64(v: number | string | bigint): Int64 {
  if (typeof v === 'number') return v;
  return fromBigInt(typeof v === 'bigint' ? v : BigInt(v));
}

/** Integer text that fits int64, normalized (no leading zeros), or null. */
export function int64Text(text: string): string | null {
  if (!/^-?\d{1,19}$/.test(text)) return null;
  const b = BigInt(text);
  return b >= INT64_MIN && b <= INT64_MAX ? b.toString() : null;
}

/** int64 columns arrive as number, BigInt (SQLite, beyond 2^53) or digit string (mysql2, beyond 2^53). */
export const int64Col = (v: unknown): Int64 => toInt64(v as number | string | bigint);

/** Bind value for an int64: BigInt is sent as its digits (both drivers store a digit string into BIGINT exactly). */
export const int64Bind = (v: Int64) => (typeof v === 'bigint' ? v.toString() : v);

/** Compares two int64 values; plain subtraction while both are numbers. */
export function cmpInt64(a: Int64, b: Int64): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return a === b ? 0 : BigInt(a) < BigInt(b) ? -1 : 1;
}

/** The largest double: ±Infinity metric values are stored as ±DOUBLE_MAX, as MLflow's SQL store does. */
export const DOUBLE_MAX = 1.7976931348623157e308;

/** How MLflow's JSON writes the doubles JSON cannot hold. */
export const NON_FINITE = ['NaN', 'Infinity', '-Infinity'] as const;
export type MetricWireValue = number | (typeof NON_FINITE)[number];

/** A metric value as stored: NaN → 0 with is_nan, ±Infinity → ±DOUBLE_MAX (as MLflow's SQL store does). */
export function storedValue(v: number): { value: number; is_nan: boolean } {
  return { value: storedDouble(v), is_nan: Number.isNaN(v) };
}

/** The stored number alone (no object: log-batch calls it per point): NaN → 0, ±Infinity → ±DOUBLE_MAX. */
export function storedDouble(v: number): number {
  if (v - v === 0) return v; // finite
  return Number.isNaN(v) ? 0 : v > 0 ? DOUBLE_MAX : -DOUBLE_MAX;
}

/** A stored metric value for the wire: NaN and ±Infinity as MLflow's JSON strings. */
export function wireValue(value: number, isNan: unknown): MetricWireValue {
  if (isNan && Number(isNan) !== 0) return 'NaN';
  if (value >= DOUBLE_MAX) return 'Infinity';
  if (value <= -DOUBLE_MAX) return '-Infinity';
  return value;
}
