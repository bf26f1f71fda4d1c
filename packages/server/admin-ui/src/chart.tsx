/** @jsxImportSource preact */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';

export interface Series {
  label: string;
  color: string;
  values: Array<number | null>;
}

export interface ChartProps {
  title: string;
  /** Sample times (ms). */
  times: number[];
  series: Series[];
  /** Formats a value for the axis and the legend. */
  format: (v: number) => string;
}

/** Charts drawn on this page, and the time labels each last drew with its width, for tests and for debugging in the console. */
declare global {
  interface Window {
    adminCharts?: Map<string, uPlot>;
    adminTimeLabels?: Map<string, { labels: string[]; width: number }>;
  }
}

/** Time labels: 24-hour `HH:MM:SS` (8 characters, about 60 px), never a second line. */
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
/** Pixels between two time labels at least: wide enough for one label and a gap, at any chart width. */
const TIME_LABEL_SPACE = 90;

/**
 * A live time-series chart (uPlot). Created once per title and series set, resized with its
 * box, and given new data with `setData` on every update. The figure's caption carries the
 * latest values as text, so the numbers do not depend on seeing the canvas.
 */
export function Chart({ title, times, series, format }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = (): uPlot.AlignedData => [times.map((t) => t / 1000), ...series.map((s) => s.values)];

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot({
      width: Math.max(200, el.clientWidth),
      height: 180,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: false },
      scales: { x: { time: true } },
      axes: [
        {
          stroke: '#555', grid: { stroke: '#eee' }, space: TIME_LABEL_SPACE,
          values: (u, splits) => {
            const labels = splits.map((t) => (t == null ? '' : clock.format(t * 1000)));
            (window.adminTimeLabels ??= new Map()).set(title, { labels: labels.filter(Boolean), width: u.bbox.width / devicePixelRatio });
            return labels;
          },
        },
        { stroke: '#555', grid: { stroke: '#eee' }, size: 76, values: (_u, vals) => vals.map((v) => (v == null ? '' : format(v))) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (_u: uPlot, v: number | null) => (v == null ? '–' : format(v)) }))],
    }, data(), el);
    plot.current = u;
    (window.adminCharts ??= new Map()).set(title, u);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      window.adminCharts?.delete(title);
      plot.current = null;
    };
  }, [title, series.map((s) => s.label).join('|')]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [times, series]);

  const latest = series.map((s) => {
    const v = s.values[s.values.length - 1];
    return `${s.label} ${v == null ? '–' : format(v)}`;
  }).join(', ');
  return (
    <figure class="chart" aria-label={`${title}: ${latest}`}>
      <figcaption>
        <span class="chart-title">{title}</span> <span class="chart-latest">{latest}</span>
      </figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${title} over time`} />
    </figure>
  );
}
