import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

interface Row { peer: string; fault: string; acked: number; deliveredOnce: number }
interface Point { peer: string; fault: string; t: number; pct: number }

/**
 * The chaos run's plot as a PNG: delivered-once share per fault and system (bars), and the
 * share of acknowledged deliveries received over time in each fault (lines). Vega-Lite
 * lays it out, Vega renders SVG, resvg turns it into PNG (a prebuilt binary, no compile).
 */
export async function renderChaosPlot(rows: Row[], timeline: Point[]): Promise<Buffer> {
  const bars = rows.map((r) => ({ peer: r.peer, fault: r.fault, pct: r.acked === 0 ? 0 : (r.deliveredOnce / r.acked) * 100 }));
  const color = { field: 'peer', type: 'nominal', scale: { domain: ['switchboard', 'socketio', 'ws'], range: ['#2b7bba', '#e4572e', '#76b041'] } } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 12,
    vconcat: [
      {
        title: 'Acknowledged publications delivered exactly once and in order (%)',
        data: { values: bars },
        width: 720,
        height: 220,
        mark: 'bar',
        encoding: {
          x: { field: 'fault', type: 'nominal', sort: null, title: null, axis: { labelAngle: -30 } },
          xOffset: { field: 'peer', type: 'nominal', sort: ['switchboard', 'socketio', 'ws'] },
          y: { field: 'pct', type: 'quantitative', title: '% delivered once', scale: { domain: [0, 100] } },
          color,
        },
      },
      {
        title: 'Acknowledged deliveries received so far, over each fault phase (%)',
        data: { values: timeline },
        facet: { field: 'fault', type: 'nominal', sort: null, title: null },
        columns: 3,
        spec: {
          width: 220,
          height: 120,
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 's' },
            y: { field: 'pct', type: 'quantitative', title: '%', scale: { zero: false } },
            color,
          },
        },
        resolve: { scale: { x: 'independent', y: 'independent' } },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
