import type { ReactNode } from 'react';
import { errorCode, errorMessage } from '../api.ts';

export function Loading({ what }: { what: string }) {
  return <p role="status" className="muted">Loading {what}…</p>;
}

const HINTS: Record<string, string> = {
  PERMISSION_DENIED: 'You do not have permission for this. Ask a maintainer of the project for the developer role.',
  RESOURCE_DOES_NOT_EXIST: 'It does not exist, or was deleted. Go back to the list and pick another one.',
  UNAUTHENTICATED: 'Your session has ended. Reload the page to sign in again.',
};

export function Problem({ title, error, action }: { title?: string; error: unknown; action?: ReactNode }) {
  const code = errorCode(error);
  const text = typeof error === 'string' ? error : errorMessage(error);
  return (
    <div className="notice error" role="alert">
      <strong>{title ?? (code === 'RESOURCE_DOES_NOT_EXIST' ? 'Not found' : code === 'PERMISSION_DENIED' ? 'Not allowed' : 'Something went wrong')}</strong>
      <p>{text}</p>
      {code && HINTS[code] && <p className="muted">{HINTS[code]}</p>}
      {action}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="notice">{children}</div>;
}

export const fmtTime = (ms: number | null | undefined) => (ms == null ? '' : new Date(ms).toLocaleString());

export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = s / 60;
  if (m < 60) return `${m.toFixed(1)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

export function fmtNum(v: unknown): string {
  if (typeof v !== 'number') return v == null ? '' : String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
}

/** A CSV file from a header and rows, downloaded by the browser. */
export function downloadCsv(name: string, header: string[], rows: unknown[][]): void {
  const q = (v: unknown) => {
    const s = v == null ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(q).join(',')).join('\r\n') + '\r\n';
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
