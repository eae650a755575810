// The runs table: rows AND columns virtualized (ui-plan §3.4: 25–27 fps scroll at 10k runs vs 6–14 with rows only),
// data as columns from ui.runs (only the chosen columns), sorted in place by an index permutation (no row objects).
// TanStack Table is not used for rendering here: its row model costs 2× on first render and sort in the plan's
// measurement; sort/filter/columns state lives in the URL instead.
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { errorMessage, preloadedOr, trpc } from '../api.ts';
import { allInput, decodeCols, DEFAULT_SORT, defaultCols, encodeCols, headInput, PAGE_ROWS, runsInput, sortOrderBy, type RunsInput } from '../preload.ts';
import { href, setQuery } from '../router.ts';
import { downloadCsv, Empty, fmtDuration, fmtNum, fmtTime, Loading, Problem } from './common.tsx';
import { ColumnChooser } from './ColumnChooser.tsx';
import { FilterBox } from './FilterBox.tsx';
import { decodeColumn } from '../../../client/index.ts';
import type { ColRef } from '../preload.ts';

interface Col { id: string; label: string; numeric: boolean; width: number }

const ATTR_COLS: Col[] = [
  { id: 'attr.name', label: 'Run name', numeric: false, width: 220 },
  { id: 'attr.status', label: 'Status', numeric: false, width: 100 },
  { id: 'attr.start_time', label: 'Started', numeric: true, width: 170 },
  { id: 'attr.duration', label: 'Duration', numeric: true, width: 100 },
  { id: 'attr.user', label: 'User', numeric: false, width: 120 },
  { id: 'attr.source', label: 'Source', numeric: false, width: 180 },
];

export { encodeCols, decodeCols };

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a == null) return 1;
  if (b == null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/** Every run of the query, in pages of PAGE_ROWS (up to 50,000). */
type Page = Awaited<ReturnType<typeof trpc.ui.runs.query>>;
const decodePage = (p: Page) => Object.fromEntries(Object.entries(p.columns).map(([k, c]) => [k, decodeColumn(c)]));

async function fetchAll(input: RunsInput) {
  const first = allInput(input);
  let page = await preloadedOr('ui.runs', first, () => trpc.ui.runs.query(first));
  performance.mark('mltrack:runs-data');
  const total = page.total;
  const runIds = [...page.runIds];
  const columns = decodePage(page);
  while (page.nextCursor && runIds.length < 50_000) {
    page = await trpc.ui.runs.query({ ...first, limit: PAGE_ROWS, cursor: page.nextCursor });
    runIds.push(...page.runIds);
    const more = decodePage(page);
    for (const k of Object.keys(columns)) columns[k]!.push(...more[k]!);
  }
  return { total, runIds, columns, complete: true };
}

export function Runs({ experimentId, query, canWrite }: { experimentId: string; query: URLSearchParams; canWrite: boolean }) {
  const qc = useQueryClient();
  const filter = query.get('filter') ?? '';
  const sort = query.get('sort') ?? DEFAULT_SORT;
  const agg = (query.get('agg') ?? 'last') as 'last' | 'min' | 'max';
  const deletedView = query.get('view') === 'deleted';
  const keys = useQuery({ queryKey: ['keys', experimentId], queryFn: () => preloadedOr('ui.keys', { experimentId }, () => trpc.ui.keys.query({ experimentId })) });
  const experiment = useQuery({ queryKey: ['experiment', experimentId], queryFn: () => preloadedOr('experiments.get', { experiment_id: experimentId }, () => trpc.experiments.get.query({ experiment_id: experimentId })) });
  const colsParam = query.get('cols');
  const chosen: ColRef[] = useMemo(() => decodeCols(colsParam) ?? (keys.data ? defaultCols(keys.data) : []), [colsParam, keys.data]);
  const input = runsInput(experimentId, query, chosen);
  const ready = keys.isSuccess || colsParam !== null;
  // The first screenful, ordered by the server as the table is sorted, so the table paints while the rest loads
  // (bench: 10k runs × 30 columns, first rows painted ~0.25–0.5 s after navigation instead of ~1.7 s); then all rows,
  // in pages of 10,000 (a 10k-run experiment is one request), asked once the first page is in (see preload.ts).
  const orderBy = sortOrderBy(sort, agg);
  const [allKey, setAllKey] = useState<string>();
  const inputKey = JSON.stringify(input);
  const all = useQuery({
    queryKey: ['runs', input],
    enabled: ready && (orderBy === undefined || allKey === inputKey),
    queryFn: () => fetchAll(input),
    // running runs refresh themselves; the order stays as the user sorted it (see `order` below)
    refetchInterval: (q) => (q.state.data?.columns['attr.status']?.includes('RUNNING') ? 5000 : false),
    placeholderData: (prev) => prev,
  });
  const allLoaded = all.isSuccess && !all.isPlaceholderData;
  const head = useQuery({
    queryKey: ['runs-head', input, orderBy],
    enabled: ready && !allLoaded && orderBy !== undefined,
    queryFn: async () => {
      const hi = headInput(input, orderBy!);
      const p = await preloadedOr('ui.runs', hi, () => trpc.ui.runs.query(hi));
      return { total: p.total, runIds: p.runIds, columns: decodePage(p), complete: !p.nextCursor };
    },
    staleTime: Infinity,
  });
  // once the first page of these rows is in (or failed), all rows may be asked for; stays on for later sorts
  useEffect(() => { if (head.isFetched || head.isError || allLoaded) setAllKey(inputKey); }, [head.isFetched, head.isError, allLoaded, inputKey]);
  const runs = allLoaded || !head.data ? all : head;

  const cols: Col[] = useMemo(() => [
    ...ATTR_COLS,
    ...chosen.map((c) => ({ id: `${c.kind}.${c.key}`, label: `${c.kind === 'metrics' ? (agg === 'last' ? '' : agg + ' ') : ''}${c.key}`, numeric: c.kind === 'metrics', width: 140 })),
  ], [chosen, agg]);

  const [sortId, sortDir] = sort.split(':') as [string, string];
  // the displayed order: recomputed when the sort, filter or set of runs changes, kept when a refresh only changes values
  const frozen = useRef<{ sig: string; ids: string[] } | undefined>(undefined);
  const order = useMemo(() => {
    const d = runs.data;
    if (!d) return [] as number[];
    const t0 = performance.now();
    const sig = `${sort}|${filter}|${agg}|${deletedView}|${d.complete}`;
    let out: number[];
    if (frozen.current?.sig === sig) {
      const pos = new Map(d.runIds.map((id, i) => [id, i]));
      out = [];
      const seen = new Set<number>();
      for (const id of frozen.current.ids) { const i = pos.get(id); if (i !== undefined) { out.push(i); seen.add(i); } }
      for (let i = 0; i < d.runIds.length; i++) if (!seen.has(i)) out.push(i);
    } else {
      const col = d.columns[sortId] ?? d.columns['attr.start_time']!;
      out = Array.from({ length: d.runIds.length }, (_, i) => i);
      const dir = sortDir === 'asc' ? 1 : -1;
      if (col.every((v) => v == null || typeof v === 'number')) {
        // numbers: compared as doubles from a typed array, missing values (NaN here) last either way
        const k = Float64Array.from(col, (v) => (v == null ? NaN : (v as number)));
        out.sort((a, b) => { const x = k[a]!, y = k[b]!; return x !== x ? (y !== y ? 0 : 1) : y !== y ? -1 : dir * (x - y); });
      } else {
        out.sort((a, b) => { const va = col[a], vb = col[b]; return va == null || vb == null ? compare(va, vb) : dir * compare(va, vb); });
      }
      performance.measure('mltrack:sort', { start: t0, end: performance.now() });
    }
    frozen.current = { sig, ids: out.map((i) => d.runIds[i]!) };
    return out;
  }, [runs.data, sort, filter, agg, deletedView]);

  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [chooser, setChooser] = useState(false);
  const [filterText, setFilterText] = useState(filter);
  useEffect(() => setFilterText(filter), [filter]);

  const done = () => { setSelected(new Set()); return qc.invalidateQueries({ queryKey: ['runs'] }); };
  const del = useMutation({ mutationFn: async (ids: string[]) => { for (const id of ids) await trpc.runs.delete.mutate({ run_id: id }); }, onSuccess: done });
  const restore = useMutation({ mutationFn: async (ids: string[]) => { for (const id of ids) await trpc.runs.restore.mutate({ run_id: id }); }, onSuccess: done });

  const wrap = useRef<HTMLDivElement>(null);
  const rowV = useVirtualizer({ count: order.length, getScrollElement: () => wrap.current, estimateSize: () => 30, overscan: 12 });
  const allCols = [{ id: '__select', label: 'Select', numeric: false, width: 44 }, ...cols];
  const colV = useVirtualizer({ horizontal: true, count: allCols.length, getScrollElement: () => wrap.current, estimateSize: (i) => allCols[i]!.width, overscan: 3 });
  useEffect(() => colV.measure(), [cols]);

  useEffect(() => {
    if (!runs.data || !order.length) return;
    requestAnimationFrame(() => {
      if (!performance.getEntriesByName('mltrack:runs-painted').length) performance.mark('mltrack:runs-painted');
      if (runs.data?.complete && !performance.getEntriesByName('mltrack:runs-complete').length) performance.mark('mltrack:runs-complete');
    });
  }, [runs.data]);

  const d = runs.data;
  function cellText(c: Col, i: number): string {
    const v = d!.columns[c.id]?.[i];
    if (c.id === 'attr.start_time') return fmtTime(v as number);
    if (c.id === 'attr.duration') return fmtDuration(v as number);
    return fmtNum(v);
  }
  function toggleSort(id: string) {
    setQuery({ sort: sortId === id ? `${id}:${sortDir === 'asc' ? 'desc' : 'asc'}` : `${id}:${id.startsWith('attr.') && id !== 'attr.start_time' ? 'asc' : 'desc'}` });
  }
  function csv() {
    downloadCsv(`experiment-${experimentId}-runs.csv`, ['run_id', ...cols.map((c) => c.label)], order.map((i) => [d!.runIds[i], ...cols.map((c) => d!.columns[c.id]?.[i] ?? '')]));
  }
  const selectedIds = [...selected];
  const expName = experiment.data?.experiment.name;

  if (experiment.isError) return <Problem error={experiment.error} action={<a href={href('/')}>Back to experiments</a>} />;
  return (
    <section>
      <nav aria-label="Breadcrumb" className="muted"><a href={href('/')}>Experiments</a> › {expName ?? experimentId}</nav>
      <h1>{expName ?? 'Experiment'} <span className="muted">runs</span></h1>
      <form className="row" onSubmit={(e: FormEvent) => { e.preventDefault(); setQuery({ filter: filterText.trim() || undefined }); }}>
        <label htmlFor="filter">Filter</label>
        <FilterBox value={filterText} onChange={setFilterText} keys={keys.data} invalid={runs.isError} describedBy={runs.isError ? 'filter-error' : undefined} />
        <button type="submit">Apply</button>
        {filter && <button type="button" onClick={() => setQuery({ filter: undefined })}>Clear</button>}
      </form>
      {runs.isError && <p id="filter-error" role="alert" className="error">{errorMessage(runs.error)}</p>}
      <div className="row" style={{ margin: '.6rem 0', position: 'relative' }}>
        <button type="button" aria-expanded={chooser} onClick={() => setChooser(!chooser)}>Columns ({chosen.length})</button>
        <label>Metric value <select value={agg} onChange={(e) => setQuery({ agg: e.target.value === 'last' ? undefined : e.target.value })}>
          <option value="last">last</option><option value="min">min</option><option value="max">max</option></select></label>
        <label><input type="checkbox" checked={deletedView} onChange={(e) => { setSelected(new Set()); setQuery({ view: e.target.checked ? 'deleted' : undefined }); }} /> Deleted runs</label>
        <a className="button" aria-disabled={selected.size < 2 || selected.size > 50} href={selected.size >= 2 && selected.size <= 50 ? href(`/experiments/${experimentId}/compare`, { runs: selectedIds.join(',') }) : undefined}>Compare ({selected.size})</a>
        {canWrite && !deletedView && <button type="button" className="danger" disabled={!selected.size || del.isPending} onClick={() => del.mutate(selectedIds)}>Delete selected</button>}
        {canWrite && deletedView && <button type="button" disabled={!selected.size || restore.isPending} onClick={() => restore.mutate(selectedIds)}>Restore selected</button>}
        <button type="button" disabled={!d || !order.length} onClick={csv}>Download CSV</button>
        <span className="muted" role="status">{d ? `${order.length.toLocaleString('en-US')} of ${d.total < 0 ? order.length : d.total.toLocaleString('en-US')} runs` : ''}{d && !d.complete ? ' · loading the rest' : runs.isFetching && d ? ' · refreshing' : ''}</span>
        {chooser && keys.data && (
          <ColumnChooser keys={keys.data} chosen={chosen} onClose={() => setChooser(false)} onChange={(next) => setQuery({ cols: encodeCols(next) })} />
        )}
      </div>
      {(del.error || restore.error) && <p role="alert" className="error">{errorMessage(del.error ?? restore.error)}</p>}
      {!d ? (runs.isError ? null : <Loading what="runs" />) : order.length === 0 ? (
        <Empty>{filter ? 'No run matches this filter.' : deletedView ? 'No deleted runs.' : 'No runs yet. Log one with the MLflow client: mlflow.set_experiment(...) then mlflow.start_run().'}</Empty>
      ) : (
        <div ref={wrap} className="grid-wrap" role="grid" aria-label="Runs" aria-rowcount={order.length + 1} aria-colcount={allCols.length} aria-multiselectable="true">
          <div style={{ width: colV.getTotalSize(), height: rowV.getTotalSize() + 34, position: 'relative' }}>
            <div className="grid-head" role="row" aria-rowindex={1} style={{ width: colV.getTotalSize() }}>
              {colV.getVirtualItems().map((vc) => {
                const c = allCols[vc.index]!;
                const sorted = sortId === c.id ? (sortDir === 'asc' ? 'ascending' : 'descending') : undefined;
                return (
                  <div key={c.id} role="columnheader" aria-colindex={vc.index + 1} aria-sort={sorted ?? (c.id === '__select' ? undefined : 'none')} className={`cell${c.numeric ? ' num' : ''}`} style={{ left: vc.start, width: vc.size }}>
                    {c.id === '__select' ? (
                      <input type="checkbox" aria-label="Select all runs" checked={selected.size > 0 && selected.size === order.length}
                        onChange={(e) => setSelected(e.target.checked ? new Set(order.map((i) => d.runIds[i]!)) : new Set())} />
                    ) : (
                      <button type="button" title={c.label} onClick={() => toggleSort(c.id)}>{c.label}{sorted ? (sorted === 'ascending' ? ' ▲' : ' ▼') : ''}</button>
                    )}
                  </div>
                );
              })}
            </div>
            {rowV.getVirtualItems().map((vr) => {
              const i = order[vr.index]!;
              const id = d.runIds[i]!;
              const sel = selected.has(id);
              return (
                <div key={id} role="row" aria-rowindex={vr.index + 2} aria-selected={sel} className="grid-row" style={{ top: vr.start + 34, width: colV.getTotalSize() }}>
                  {colV.getVirtualItems().map((vc) => {
                    const c = allCols[vc.index]!;
                    let content;
                    if (c.id === '__select') {
                      content = <input type="checkbox" aria-label={`Select run ${d.columns['attr.name']![i] || id}`} checked={sel}
                        onChange={(e) => { const s = new Set(selected); e.target.checked ? s.add(id) : s.delete(id); setSelected(s); }} />;
                    } else if (c.id === 'attr.name') {
                      content = <a href={href(`/experiments/${experimentId}/runs/${id}`)}>{String(d.columns['attr.name']![i] || id)}</a>;
                    } else if (c.id === 'attr.status') {
                      const s = String(d.columns['attr.status']![i]);
                      content = <span className={`status-${s}`}>{s}</span>;
                    } else content = cellText(c, i);
                    return <div key={c.id} role="gridcell" aria-colindex={vc.index + 1} className={`cell${c.numeric ? ' num' : ''}`} style={{ left: vc.start, width: vc.size }}>{content}</div>;
                  })}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </section>
  );
}
