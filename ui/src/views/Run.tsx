import { lazy, Suspense, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage, preloadedOr, trpc } from '../api.ts';
import { decodeColumn } from '../../../client/index.ts';
import { href, setQuery } from '../router.ts';
import { Empty, fmtDuration, fmtNum, fmtTime, Loading, Problem } from './common.tsx';
import type { XMode } from './Chart.tsx';
import { Artifacts } from './Artifacts.tsx';
import { RunModelVersions } from './Model.tsx';

const Chart = lazy(() => import('./Chart.tsx'));

const NOTE = 'mlflow.note.content';
const num = (v: unknown) => (v == null ? null : Number(v));

export default function RunPage({ experimentId, runId, query, canWrite }: { experimentId: string; runId: string; query: URLSearchParams; canWrite: boolean }) {
  const tab = query.get('tab') ?? 'overview';
  const q = useQuery({ queryKey: ['run', runId], queryFn: () => preloadedOr('runs.get', { run_id: runId }, () => trpc.runs.get.query({ run_id: runId })) });
  if (q.isPending) return <Loading what="run" />;
  if (q.isError) return <Problem error={q.error} action={<a href={href(`/experiments/${experimentId}`)}>Back to the runs</a>} />;
  const run = q.data.run;
  const info = run.info;
  const tags = new Map((run.data.tags ?? []).map((t) => [t.key, t.value]));
  const name = info.run_name || info.run_id;
  const tabLink = (t: string, label: string) => (
    <a href={href(`/experiments/${experimentId}/runs/${runId}`, { tab: t === 'overview' ? undefined : t })} aria-current={tab === t ? 'page' : undefined}>{label}</a>
  );
  return (
    <section>
      <nav aria-label="Breadcrumb" className="muted"><a href={href('/')}>Experiments</a> › <a href={href(`/experiments/${experimentId}`)}>Experiment {experimentId}</a> › {name}</nav>
      <h1>{name}</h1>
      <nav className="tabs" aria-label="Run sections">{tabLink('overview', 'Overview')}{tabLink('charts', 'Charts')}{tabLink('artifacts', 'Artifacts')}</nav>
      {tab === 'overview' && <Overview run={run} tags={tags} canWrite={canWrite} experimentId={experimentId} />}
      {tab === 'charts' && <Charts runId={runId} label={name} metrics={(run.data.metrics ?? []).map((m) => m.key)} query={query} />}
      {tab === 'artifacts' && <Artifacts runId={runId} artifactUri={info.artifact_uri} />}
    </section>
  );
}

type RunData = Awaited<ReturnType<typeof trpc.runs.get.query>>['run'];

function Overview({ run, tags, canWrite, experimentId }: { run: RunData; tags: Map<string, string>; canWrite: boolean; experimentId: string }) {
  const info = run.info;
  const start = num(info.start_time), end = num(info.end_time);
  const parent = tags.get('mlflow.parentRunId');
  const children = useQuery({
    queryKey: ['children', info.run_id],
    queryFn: () => trpc.ui.runs.query({ experimentId, filter: `tags.mlflow.parentRunId = '${info.run_id}'`, limit: 200 }),
  });
  const models = (run.outputs?.model_outputs ?? []) as { model_id: string; step: unknown }[];
  return (
    <div className="stack">
      <table className="plain">
        <caption className="visually-hidden">Run information</caption>
        <tbody>
          <tr><th scope="row">Run ID</th><td><code>{info.run_id}</code></td></tr>
          <tr><th scope="row">Status</th><td className={`status-${info.status}`}>{info.status}</td></tr>
          <tr><th scope="row">Started</th><td>{fmtTime(start)}</td></tr>
          <tr><th scope="row">Duration</th><td>{end != null && start != null ? fmtDuration(end - start) : info.status === 'RUNNING' ? 'running' : ''}</td></tr>
          <tr><th scope="row">User</th><td>{info.user_id}</td></tr>
          <tr><th scope="row">Source</th><td>{tags.get('mlflow.source.name') ?? ''}</td></tr>
          <tr><th scope="row">Git commit</th><td>{tags.get('mlflow.source.git.commit') ? <code>{tags.get('mlflow.source.git.commit')}</code> : ''}</td></tr>
          <tr><th scope="row">Parent run</th><td>{parent ? <a href={href(`/experiments/${experimentId}/runs/${parent}`)}>{parent}</a> : 'none'}</td></tr>
          <tr><th scope="row">Child runs</th><td>{children.data?.runIds.length ? children.data.runIds.map((id, i) => <span key={id}><a href={href(`/experiments/${experimentId}/runs/${id}`)}>{String(decodeColumn(children.data!.columns['attr.name']!)[i] || id)}</a> </span>) : 'none'}</td></tr>
          <tr><th scope="row">Logged models</th><td>{models.length ? models.map((m) => <code key={m.model_id}>{m.model_id} </code>) : 'none'}</td></tr>
        </tbody>
      </table>
      <RunModelVersions runId={info.run_id} />{/* models section (issue 10 item 6) */}
      <Description runId={info.run_id} text={tags.get(NOTE) ?? ''} canWrite={canWrite} />
      <MetricsTable runId={info.run_id} metrics={run.data.metrics ?? []} />
      <h2>Parameters</h2>
      {(run.data.params ?? []).length === 0 ? <Empty>No parameters logged.</Empty> : (
        <table className="plain"><caption className="visually-hidden">Parameters</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead>
          <tbody>{run.data.params!.map((p) => <tr key={p.key}><td>{p.key}</td><td>{p.value}</td></tr>)}</tbody></table>
      )}
      <Tags runId={info.run_id} tags={run.data.tags ?? []} canWrite={canWrite} />
      <h2>Datasets</h2>
      {(run.inputs?.dataset_inputs ?? []).length === 0 ? <Empty>No datasets logged.</Empty> : (
        <table className="plain"><caption className="visually-hidden">Datasets</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Digest</th><th scope="col">Source</th><th scope="col">Context</th></tr></thead>
          <tbody>{run.inputs!.dataset_inputs!.map((d, i) => (
            <tr key={i}><td>{d.dataset.name}</td><td><code>{d.dataset.digest}</code></td><td>{d.dataset.source_type}</td><td>{(d.tags ?? []).find((t) => t.key === 'mlflow.data.context')?.value ?? ''}</td></tr>
          ))}</tbody></table>
      )}
    </div>
  );
}

function Description({ runId, text, canWrite }: { runId: string; text: string; canWrite: boolean }) {
  const qc = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(text);
  const save = useMutation({ mutationFn: () => trpc.runs.setTag.mutate({ run_id: runId, key: NOTE, value }), onSuccess: () => { setEditing(false); return qc.invalidateQueries({ queryKey: ['run', runId] }); } });
  return (
    <div>
      <h2>Description</h2>
      {editing ? (
        <form className="stack" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
          <label htmlFor="desc" className="visually-hidden">Description</label>
          <textarea id="desc" rows={4} value={value} onChange={(e) => setValue(e.target.value)} />
          <div className="row"><button type="submit" className="primary">Save description</button><button type="button" onClick={() => setEditing(false)}>Cancel</button></div>
          {save.error && <p role="alert" className="error">{errorMessage(save.error)}</p>}
        </form>
      ) : (
        <div className="row"><p style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{text || <span className="muted">No description.</span>}</p>{canWrite && <button type="button" onClick={() => { setValue(text); setEditing(true); }}>Edit description</button>}</div>
      )}
    </div>
  );
}

function MetricsTable({ runId, metrics }: { runId: string; metrics: { key: string; value: unknown; step: unknown }[] }) {
  if (!metrics.length) return <><h2>Metrics</h2><Empty>No metrics logged.</Empty></>;
  return (
    <div>
      <h2>Metrics</h2>
      <table className="plain"><caption className="visually-hidden">Metrics</caption>
        <thead><tr><th scope="col">Metric</th><th scope="col">Last</th><th scope="col">Min</th><th scope="col">Max</th><th scope="col">Points</th></tr></thead>
        <tbody>{metrics.map((m) => <MetricRow key={m.key} runId={runId} m={m} />)}</tbody>
      </table>
    </div>
  );
}

function MetricRow({ runId, m }: { runId: string; m: { key: string; value: unknown } }) {
  // min/max/count from the coarsest downsampling (the band keeps the extremes, so they are exact)
  const h = useQuery({ queryKey: ['history', runId, m.key, 'step', 50], queryFn: () => trpc.ui.metricHistory.query({ runId, key: m.key, points: 50 }) });
  const vals = (a: (number | null)[] | undefined) => (a ?? []).filter((v): v is number => v != null);
  return (
    <tr><td>{m.key}</td><td className="num">{fmtNum(m.value)}</td>
      <td className="num">{h.data ? fmtNum(Math.min(...vals(h.data.min))) : ''}</td>
      <td className="num">{h.data ? fmtNum(Math.max(...vals(h.data.max))) : ''}</td>
      <td className="num">{h.data?.total ?? ''}</td></tr>
  );
}

function Tags({ runId, tags, canWrite }: { runId: string; tags: { key: string; value: string }[]; canWrite: boolean }) {
  const qc = useQueryClient();
  const [edit, setEdit] = useState<{ key: string; value: string; isNew: boolean }>();
  const done = () => { setEdit(undefined); return qc.invalidateQueries({ queryKey: ['run', runId] }); };
  const set = useMutation({ mutationFn: (t: { key: string; value: string }) => trpc.runs.setTag.mutate({ run_id: runId, ...t }), onSuccess: done });
  const del = useMutation({ mutationFn: (key: string) => trpc.runs.deleteTag.mutate({ run_id: runId, key }), onSuccess: done });
  const shown = tags.filter((t) => !t.key.startsWith('mlflow.'));
  return (
    <div>
      <h2>Tags</h2>
      {shown.length === 0 && !edit ? <Empty>No tags.</Empty> : (
        <table className="plain"><caption className="visually-hidden">Tags</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Value</th>{canWrite && <th scope="col">Actions</th>}</tr></thead>
          <tbody>{shown.map((t) => (
            <tr key={t.key}><td>{t.key}</td><td>{t.value}</td>
              {canWrite && <td className="row">
                <button type="button" onClick={() => setEdit({ key: t.key, value: t.value, isNew: false })}>Edit<span className="visually-hidden"> tag {t.key}</span></button>
                <button type="button" className="danger" onClick={() => del.mutate(t.key)}>Delete<span className="visually-hidden"> tag {t.key}</span></button>
              </td>}</tr>
          ))}</tbody></table>
      )}
      {canWrite && !edit && <button type="button" onClick={() => setEdit({ key: '', value: '', isNew: true })}>Add tag</button>}
      {edit && (
        <form className="row" onSubmit={(e) => { e.preventDefault(); set.mutate({ key: edit.key, value: edit.value }); }}>
          <label>Tag name <input value={edit.key} readOnly={!edit.isNew} onChange={(e) => setEdit({ ...edit, key: e.target.value })} required /></label>
          <label>Tag value <input value={edit.value} onChange={(e) => setEdit({ ...edit, value: e.target.value })} autoFocus={!edit.isNew} /></label>
          <button type="submit" className="primary">Save tag</button><button type="button" onClick={() => setEdit(undefined)}>Cancel</button>
        </form>
      )}
      {(set.error || del.error) && <p role="alert" className="error">{errorMessage(set.error ?? del.error)}</p>}
    </div>
  );
}

export function ChartControls({ query }: { query: URLSearchParams }) {
  const x = (query.get('x') ?? 'step') as XMode;
  return (
    <div className="row" role="group" aria-label="Chart options">
      <label>X axis <select value={x} onChange={(e) => setQuery({ x: e.target.value === 'step' ? undefined : e.target.value })}>
        <option value="step">Step</option><option value="time">Wall time</option><option value="relative">Relative time</option></select></label>
      <label><input type="checkbox" checked={query.get('log') === '1'} onChange={(e) => setQuery({ log: e.target.checked ? '1' : undefined })} /> Log scale</label>
      <label>Smoothing <input type="range" min={0} max={0.99} step={0.01} value={query.get('smooth') ?? '0'} onChange={(e) => setQuery({ smooth: e.target.value === '0' ? undefined : e.target.value })} /></label>
      <label><input type="checkbox" checked={query.get('band') !== '0'} onChange={(e) => setQuery({ band: e.target.checked ? undefined : '0' })} /> Min/max band</label>
    </div>
  );
}

function Charts({ runId, label, metrics, query }: { runId: string; label: string; metrics: string[]; query: URLSearchParams }) {
  if (!metrics.length) return <Empty>This run has no metrics to chart.</Empty>;
  const props = { x: (query.get('x') ?? 'step') as XMode, logY: query.get('log') === '1', smoothing: Number(query.get('smooth') ?? 0), band: query.get('band') !== '0' };
  return (
    <div className="stack">
      <ChartControls query={query} />
      <div className="charts">
        {metrics.map((k) => (
          <figure key={k} className="chart-card" aria-label={`Chart of ${k}`} style={{ margin: 0 }}>
            <h3>{k}</h3>
            <Suspense fallback={<Loading what="chart" />}><Chart metricKey={k} runs={[{ runId, label }]} {...props} /></Suspense>
          </figure>
        ))}
      </div>
    </div>
  );
}
