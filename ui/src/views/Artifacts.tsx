import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { artifactUrl, trpc } from '../api.ts';
import { Empty, Loading, Problem } from './common.tsx';

type File = { path: string; is_dir: boolean; file_size?: unknown };
const CHUNK = 64 * 1024;
const ext = (p: string) => p.slice(p.lastIndexOf('.') + 1).toLowerCase();
const IMAGE = new Set(['png', 'jpg', 'jpeg', 'gif', 'bmp', 'svg', 'webp']);
const TEXT = new Set(['txt', 'log', 'py', 'md', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'sh', 'js', 'ts', 'r', 'sql', 'mlmodel', 'requirements', 'xml']);

function Dir({ runId, path, selected, onSelect }: { runId: string; path: string; selected?: string; onSelect(f: File): void }) {
  const q = useQuery({ queryKey: ['artifacts', runId, path], queryFn: () => trpc.artifacts.list.query({ run_id: runId, path: path || undefined }) });
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (q.isPending) return <Loading what="files" />;
  if (q.isError) return <Problem error={q.error} />;
  const files = q.data.files ?? [];
  if (!files.length && !path) return <Empty>No artifacts logged for this run.</Empty>;
  return (
    <ul className="tree" role={path ? 'group' : 'tree'} aria-label={path ? undefined : 'Artifacts'}>
      {files.map((f) => {
        const name = f.path.split('/').pop();
        const isOpen = open.has(f.path);
        return (
          <li key={f.path} role="treeitem" aria-expanded={f.is_dir ? isOpen : undefined} aria-selected={selected === f.path}>
            <button type="button" aria-current={selected === f.path} onClick={() => {
              if (f.is_dir) { const s = new Set(open); isOpen ? s.delete(f.path) : s.add(f.path); setOpen(s); } else onSelect(f);
            }}>{f.is_dir ? (isOpen ? '▾ ' : '▸ ') : ''}{name}</button>
            {f.is_dir && isOpen && <Dir runId={runId} path={f.path} selected={selected} onSelect={onSelect} />}
          </li>
        );
      })}
    </ul>
  );
}

export function Artifacts({ runId, artifactUri }: { runId: string; artifactUri: string }) {
  const [file, setFile] = useState<File>();
  return (
    <div className="artifacts">
      <nav aria-label="Artifact files"><Dir runId={runId} path="" selected={file?.path} onSelect={setFile} /></nav>
      <div>{file ? <Preview key={file.path} file={file} url={artifactUrl(artifactUri, file.path)} /> : <p className="muted">Pick a file to preview it.</p>}</div>
    </div>
  );
}

async function fetchRange(url: string, start: number, end: number): Promise<{ text: string; total: number }> {
  const r = await fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const total = Number(r.headers.get('Content-Range')?.split('/')[1] ?? r.headers.get('Content-Length') ?? 0);
  return { text: await r.text(), total };
}

function Preview({ file, url }: { file: File; url: string }) {
  const e = ext(file.path);
  const size = Number(file.file_size ?? 0);
  const kind = IMAGE.has(e) ? 'image' : e === 'html' || e === 'htm' ? 'html' : e === 'json' ? 'json' : e === 'csv' || e === 'tsv' ? 'table' : TEXT.has(e) || size < 1024 * 1024 ? 'text' : 'none';
  return (
    <section className="stack" aria-label={`Preview of ${file.path}`}>
      <div className="row"><h2 style={{ margin: 0 }}>{file.path}</h2><span className="muted">{size.toLocaleString('en-US')} bytes</span>
        <a className="button" href={url} download={file.path.split('/').pop()}>Download</a></div>
      <div className="preview" tabIndex={0} aria-label="File contents">
        {kind === 'image' && <img src={url} alt={file.path} style={{ maxWidth: '100%' }} />}
        {kind === 'html' && <HtmlPreview url={url} />}
        {kind === 'json' && <JsonPreview url={url} size={size} />}
        {kind === 'table' && <TablePreview url={url} sep={e === 'tsv' ? '\t' : ','} />}
        {kind === 'text' && <TextPreview url={url} />}
        {kind === 'none' && <p className="muted">No preview for this file type; download it instead.</p>}
      </div>
    </section>
  );
}

function TextPreview({ url }: { url: string }) {
  const [chunks, setChunks] = useState<string[]>([]);
  const [total, setTotal] = useState<number>();
  const [error, setError] = useState<string>();
  const loaded = chunks.length * CHUNK;
  const more = () => fetchRange(url, loaded, loaded + CHUNK - 1).then((r) => { setChunks((c) => [...c, r.text]); setTotal(r.total); }, (e) => setError(String(e)));
  useEffect(() => { void more(); }, []);
  if (error) return <p className="error">{error}</p>;
  if (total === undefined) return <Loading what="file" />;
  return (
    <>
      <pre>{chunks.join('')}</pre>
      {loaded < total && <button type="button" onClick={more}>Load more ({Math.min(loaded, total).toLocaleString('en-US')} of {total.toLocaleString('en-US')} bytes shown)</button>}
    </>
  );
}

function JsonPreview({ url, size }: { url: string; size: number }) {
  const [text, setText] = useState<string>();
  useEffect(() => {
    if (size > 2 * 1024 * 1024) return;
    fetch(url).then((r) => r.text()).then((t) => { try { setText(JSON.stringify(JSON.parse(t), null, 2)); } catch { setText(t); } });
  }, [url]);
  if (size > 2 * 1024 * 1024) return <TextPreview url={url} />;
  return text === undefined ? <Loading what="JSON" /> : <pre>{text}</pre>;
}

function TablePreview({ url, sep }: { url: string; sep: string }) {
  const [rows, setRows] = useState<string[][]>();
  useEffect(() => {
    const w = new Worker(new URL('./csv-worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (e) => { setRows(e.data); w.terminate(); };
    fetchRange(url, 0, 1024 * 1024 - 1).then((r) => w.postMessage({ text: r.text, sep }));
    return () => w.terminate();
  }, [url]);
  if (!rows) return <Loading what="table" />;
  const [head = [], ...body] = rows;
  return (
    <table className="plain"><caption className="visually-hidden">First {body.length} rows</caption>
      <thead><tr>{head.map((h, i) => <th scope="col" key={i}>{h}</th>)}</tr></thead>
      <tbody>{body.map((r, i) => <tr key={i}>{r.map((c, j) => <td key={j}>{c}</td>)}</tr>)}</tbody>
    </table>
  );
}

function HtmlPreview({ url }: { url: string }) {
  const [html, setHtml] = useState<string>();
  useEffect(() => { fetchRange(url, 0, 2 * 1024 * 1024 - 1).then((r) => setHtml(r.text)); }, [url]);
  // sandbox without allow-scripts or allow-same-origin: the page is shown, never run against our origin
  return html === undefined ? <Loading what="HTML" /> : <iframe title="HTML preview" sandbox="" srcDoc={html} />;
}
