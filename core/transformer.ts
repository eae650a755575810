/**
 * tRPC data transformer: plain JSON, except that BigInt (int64 values beyond 2^53, e.g. metric steps) travels as
 * {"$int64": "<digits>"}. The typed client factory uses the same transformer.
 */
const TAG = '$int64';

function encode(v: unknown): unknown {
  if (typeof v === 'bigint') return { [TAG]: v.toString() };
  // JSON has no NaN or Infinity: send MLflow's strings, which the double schemas accept
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const e = encode(v[i]);
      if (e !== v[i]) (out ??= v.slice())[i] = e;
    }
    return out ?? v;
  }
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    let out: Record<string, unknown> | undefined;
    for (const k in v as Record<string, unknown>) {
      const x = (v as Record<string, unknown>)[k];
      const e = encode(x);
      if (e !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = e;
    }
    return out ?? v;
  }
  return v;
}

function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o[TAG] === 'string' && Object.keys(o).length === 1) return BigInt(o[TAG] as string);
    for (const k in o) o[k] = decode(o[k]);
  }
  return v;
}

export const int64Transformer = { serialize: encode, deserialize: decode };
