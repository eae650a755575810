import { lazy, Suspense, useMemo, useState } from 'react';
import { useQueries } from '@tanstack/react-query';
import { trpc } from '../api.ts';
import { href, setQuery } from '../router.ts';
import { fmtNum, Loading, Problem } from './common.tsx';
import { ChartControls } from './Run.tsx';
import type { XMode } from './Chart.tsx';

const Chart = lazy(() => import('./Chart.tsx'));

export default function Compare({ experimentId, query }: { experimentId: string; query: URLSearchParams }) {
  const ids = (query.get('runs') ?? '').split(',').filter(Boolean).slice(0, 50);
  const runs = useQueries({ queries: ids.map((id) => ({ queryKey: ['run', id], queryFn: () => trpc.runs.get.query({ run_id: id }) })) });
  const [onlyDiff, setOnlyDiff] = useState(false);
  const [pick, setPick] = useState('');
  const loaded = runs.every((r) => r.isSuccess) ? runs.map((r) => r.data!.run) : undefined;
  const table = useMemo(() => {
    if (!loaded) return undefined;
    const params = [...new Set(loaded.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
    const metrics = [...new Set(loaded.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
    const pv = (r: (typeof loaded)[number], k: string) => r.data.params?.find((p) => p.key === k)?.value;
    const mv = (r: (typeof loaded)[number], k: string) => r.data.metrics?.find((m) => m.key === k)?.value;
    return { params, metrics, pv, mv };
  }, [loaded && runs.map((r) => r.dataUpdatedAt).join()]);
  if (ids.length < 2) return <Problem title="Pick runs to compare" error="Select 2 to 50 runs in the runs table, then press Compare." action={<a href={href(`/experiments/${experimentId}`)}>Runs</a>} />;
  const failed = runs.find((r) => r.isError);
  if (failed) return <Problem error={failed.error} />;
  if (!loaded || !table) return <Loading what="runs" />;
  const differs = (vals: unknown[]) => new Set(vals.map((v) => JSON.stringify(v ?? null))).size > 1;
  const params = onlyDiff ? table.params.filter((k) => differs(loaded.map((r) => table.pv(r, k)))) : table.params;
  const metrics = onlyDiff ? table.metrics.filter((k) => differs(loaded.map((r) => table.mv(r, k)))) : table.metrics;
  // the charted metrics live in the URL (one key a line, as the table's columns); by default the first one
  const fromUrl = query.get('charts');
  const charted = fromUrl === null ? table.metrics.slice(0, 1) : fromUrl.split('\n').filter((k) => table.metrics.includes(k));
  const setCharted = (next: string[]) => setQuery({ charts: table.metrics.filter((k) => next.includes(k)).join('\n') || '\n' });
  const needle = pick.toLowerCase();
  const pickable = table.metrics.filter((k) => k.toLowerCase().includes(needle));
  const label = (r: (typeof loaded)[number]) => r.info.run_name || r.info.run_id;
  return (
    <section className="stack">
      <nav aria-label="Breadcrumb" className="muted"><a href={href('/')}>Experiments</a> › <a href={href(`/experiments/${experimentId}`)}>Experiment {experimentId}</a> › Compare</nav>
      <h1>Comparing {loaded.length} runs</h1>
      <label><input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} /> Only differences</label>
      <table className="plain">
        <caption className="visually-hidden">Parameters and latest metrics side by side</caption>
        <thead><tr><th scope="col">Name</th>{loaded.map((r) => <th scope="col" key={r.info.run_id}><a href={href(`/experiments/${experimentId}/runs/${r.info.run_id}`)}>{label(r)}</a></th>)}</tr></thead>
        <tbody>
          {params.map((k) => <tr key={`p:${k}`}><th scope="row">param {k}</th>{loaded.map((r) => <td key={r.info.run_id}>{table.pv(r, k) ?? ''}</td>)}</tr>)}
          {metrics.map((k) => <tr key={`m:${k}`}><th scope="row">metric {k}</th>{loaded.map((r) => <td key={r.info.run_id} className="num">{fmtNum(table.mv(r, k))}</td>)}</tr>)}
        </tbody>
      </table>
      {table.metrics.length > 0 && (
        <>
          <h2>Metric histories</h2>
          <fieldset className="picker">
            <legend>Metrics to chart ({charted.length} of {table.metrics.length})</legend>
            {table.metrics.length > 12 && <label>Search metrics <input type="search" value={pick} onChange={(e) => setPick(e.target.value)} /></label>}
            <div className="row">
              {pickable.slice(0, 200).map((k) => (
                <label key={k}><input type="checkbox" checked={charted.includes(k)} onChange={(e) => setCharted(e.target.checked ? [...charted, k] : charted.filter((c) => c !== k))} /> {k}</label>
              ))}
              {pickable.length > 200 && <span className="muted">{pickable.length - 200} more: type to narrow.</span>}
            </div>
          </fieldset>
          <ChartControls query={query} />
          {charted.length === 0 ? <p className="muted">Pick a metric above to chart it for every run.</p> : (
            <div className="charts">
              {charted.map((k) => (
                <figure key={k} className="chart-card" aria-label={`Chart of ${k}`} style={{ margin: 0 }}>
                  <h3>{k}</h3>
                  <Suspense fallback={<Loading what="chart" />}>
                    <Chart metricKey={k} runs={loaded.map((r) => ({ runId: r.info.run_id, label: label(r) }))} x={(query.get('x') ?? 'step') as XMode} logY={query.get('log') === '1'} smoothing={Number(query.get('smooth') ?? 0)} band={false} />
                  </Suspense>
                </figure>
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}
