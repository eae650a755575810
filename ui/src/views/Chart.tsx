// One metric's whole history as a uPlot chart (a lazy chunk: ~23 kB gz). Data comes downsampled from the server
// (ui.metricHistory: min/max/last per x-bucket, about one bucket per pixel), so a 1M-point history draws ~1k points.
import { useEffect, useRef, useState } from 'react';
import { useQueries } from '@tanstack/react-query';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { trpc } from '../api.ts';

export type XMode = 'step' | 'time' | 'relative';
export interface ChartProps { metricKey: string; runs: { runId: string; label: string }[]; x: XMode; logY: boolean; smoothing: number; band: boolean }

declare global { interface Window { __mltrackCharts?: Record<string, uPlot> } }

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** EMA with TensorBoard's debiasing, so the first points are not pulled toward 0. */
function ema(ys: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return ys;
  let last = 0, n = 0;
  return ys.map((y) => {
    if (y == null || !Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

export default function Chart({ metricKey, runs, x, logY, smoothing, band }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = box.current!;
    const ro = new ResizeObserver(() => setWidth(Math.floor(el.clientWidth)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const points = Math.max(50, Math.min(2000, Math.round(width || 600)));
  const hist = useQueries({
    queries: runs.map((r) => ({
      queryKey: ['history', r.runId, metricKey, x === 'step' ? 'step' : 'time', points],
      queryFn: () => trpc.ui.metricHistory.query({ runId: r.runId, key: metricKey, x: x === 'step' ? 'step' : 'time', points }),
      enabled: width > 0,
      staleTime: 5000,
    })),
  });
  const ready = hist.length > 0 && hist.every((h) => h.isSuccess);
  const data = ready ? hist.map((h) => h.data!) : undefined;
  const shown = data ? data.reduce((s, d) => s + d.x.length, 0) : 0;
  const total = data ? data.reduce((s, d) => s + d.total, 0) : 0;

  useEffect(() => {
    if (!data || !box.current || !width) return;
    const single = data.length === 1;
    const colors = [1, 2, 3, 4, 5, 6].map((i) => css(`--series-${i}`));
    const xsOf = (d: (typeof data)[number]) => (x === 'relative' && d.x.length ? d.x.map((v) => (v - d.x[0]!) / 1000) : x === 'time' ? d.x.map((v) => v / 1000) : d.x);
    let aligned: uPlot.AlignedData;
    const series: uPlot.Series[] = [{ label: x === 'step' ? 'step' : x === 'time' ? 'time' : 'seconds' }];
    const bands: uPlot.Band[] = [];
    if (single) {
      const d = data[0]!;
      aligned = [xsOf(d), ema(d.last, smoothing), d.min, d.max] as uPlot.AlignedData;
      series.push({ label: runs[0]!.label, stroke: colors[0], width: 1.5, points: { show: d.x.length < 60 } });
      // the band's edges are drawn too (faintly): a one-bucket spike is a 1-px-wide band that a fill alone would hide
      series.push({ label: 'min', stroke: css('--chart-band'), width: 1, show: band, points: { show: false } });
      series.push({ label: 'max', stroke: css('--chart-band'), width: 1, show: band, points: { show: false } });
      if (band) bands.push({ series: [3, 2], fill: css('--chart-band') });
    } else {
      aligned = uPlot.join(data.map((d) => [xsOf(d), ema(d.last, smoothing)] as uPlot.AlignedData));
      data.forEach((d, i) => series.push({ label: runs[i]!.label, stroke: colors[i % colors.length], width: 1.5, spanGaps: true, points: { show: d.x.length < 60 } }));
    }
    const axis = { stroke: css('--fg-muted'), grid: { stroke: css('--border'), width: 1 }, ticks: { stroke: css('--border') } };
    const u = new uPlot({
      width, height: 240, series, bands,
      scales: { x: { time: x === 'time' }, y: logY ? { distr: 3 } : {} },
      axes: [axis, axis],
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
    }, aligned, box.current);
    (window.__mltrackCharts ??= {})[metricKey] = u;
    performance.mark(`mltrack:chart-drawn:${metricKey}`);
    return () => { u.destroy(); if (window.__mltrackCharts?.[metricKey] === u) delete window.__mltrackCharts[metricKey]; };
  }, [data && hist.map((h) => h.dataUpdatedAt).join(), width, x, logY, smoothing, band]);

  const failed = hist.find((h) => h.isError);
  return (
    <div>
      <div ref={box} aria-hidden="true" />
      <p className="muted" data-testid="chart-caption">
        {failed ? <span className="error">Could not load {metricKey}: {String(failed.error?.message)}</span>
          : !ready ? 'Loading history…'
          : `${shown.toLocaleString('en-US')} point${shown === 1 ? '' : 's'} drawn of ${total.toLocaleString('en-US')} logged`}
      </p>
    </div>
  );
}
