/**
 * chart.js charts in the theme's chart colours (read when drawn, and drawn again when the theme changes):
 * histograms (linear or log y) and the error-vs-bits chart; and any chart or heatmap as a PNG.
 */
import {
  Chart,
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
  ScatterController,
  PointElement,
} from 'chart.js';
import { fmt } from './dom.ts';
import { chartColours } from './colours.ts';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, Tooltip, Legend, ScatterController, PointElement);

export interface HistogramInput {
  lo: number;
  hi: number;
  counts: number[];
}

const charts = new WeakMap<HTMLCanvasElement, Chart>();
/** How to draw each chart again, in the colours of the theme now (a theme change). */
const redrawers = new Map<HTMLCanvasElement, () => void>();

/** Draw every chart still on the page again: their colours are the theme's, read when drawn. */
export function redrawCharts(): void {
  forgetRemoved();
  for (const draw of redrawers.values()) draw();
}

function forgetRemoved(): void {
  for (const canvas of redrawers.keys()) if (!canvas.isConnected) redrawers.delete(canvas);
}

function remember(canvas: HTMLCanvasElement, draw: () => void): void {
  forgetRemoved();
  redrawers.set(canvas, draw);
}

/** A series colour: one of the theme's chart colours. */
export type SeriesColour = 'blue' | 'red' | 'yellow' | 'green' | 'purple';

/**
 * Draw (or redraw) a histogram into a canvas. Series share the bins of the first; a second series is drawn as
 * outlined bars over the first, so both show where they overlap. The colours used are on `data-colours`.
 */
export function drawHistogram(
  canvas: HTMLCanvasElement,
  series: { label: string; histogram: HistogramInput; colour: SeriesColour }[],
  scale: 'linear' | 'log',
  onDrawn?: () => void,
): void {
  remember(canvas, () => drawHistogram(canvas, series, scale, onDrawn));
  charts.get(canvas)?.destroy();
  const first = series[0].histogram;
  const bins = first.counts.length;
  const width = (first.hi - first.lo) / bins;
  const labels = Array.from({ length: bins }, (_, i) => fmt(first.lo + (i + 0.5) * width, 3));
  const theme = chartColours();
  const { text, grid } = theme;
  canvas.dataset.colours = JSON.stringify(series.map((s) => theme[s.colour]));
  const chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.histogram.counts.map((c) => (scale === 'log' && c === 0 ? null : c)),
        backgroundColor: i === 0 ? theme[s.colour] : 'transparent',
        borderColor: theme[s.colour],
        borderWidth: i === 0 ? 0 : 2,
        barPercentage: 1,
        categoryPercentage: 1,
        grouped: false,
        order: -i,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: series.length > 1, labels: { color: text } },
        tooltip: {
          callbacks: {
            title: (items) => {
              const i = items[0].dataIndex;
              return `[${fmt(first.lo + i * width)}, ${fmt(first.lo + (i + 1) * width)})`;
            },
          },
        },
      },
      scales: {
        x: { ticks: { color: text, maxTicksLimit: 9, maxRotation: 0 }, grid: { color: grid } },
        y: {
          type: scale === 'log' ? 'logarithmic' : 'linear',
          // counts are whole: on a log axis label only the powers of ten, without decimals, from 1 up
          min: scale === 'log' ? 0.5 : undefined,
          ticks:
            scale === 'log'
              ? {
                  color: text,
                  callback: (v) => (Number.isInteger(Math.log10(Number(v))) && Number(v) >= 1 ? Number(v).toLocaleString('en-US') : ''),
                }
              : { color: text },
          grid: { color: grid },
          title: { display: true, text: 'count', color: text },
        },
      },
    },
    plugins: [{ id: 'drawn', afterRender: () => onDrawn?.() }],
  });
  charts.set(canvas, chart);
}

/**
 * Error (relative RMSE, log scale) against bits per weight for each candidate: the current type, ggml types and
 * schemes told apart by shape as well as colour, with a legend.
 */
export function drawErrorVsBits(
  canvas: HTMLCanvasElement,
  points: { label: string; bits: number; error: number; current: boolean; ggml: boolean }[],
): void {
  remember(canvas, () => drawErrorVsBits(canvas, points));
  charts.get(canvas)?.destroy();
  const theme = chartColours();
  const { text, grid } = theme;
  const drawn = points.filter((p) => p.error > 0);
  const kinds = [
    { label: 'current type', colour: theme.red, shape: 'triangle', radius: 7, of: (p: (typeof points)[number]) => p.current },
    { label: 'ggml types', colour: theme.blue, shape: 'circle', radius: 5, of: (p: (typeof points)[number]) => !p.current && p.ggml },
    { label: 'schemes', colour: theme.yellow, shape: 'rect', radius: 5, of: (p: (typeof points)[number]) => !p.current && !p.ggml },
  ] as const;
  const groups = kinds.map((k) => ({ ...k, points: drawn.filter(k.of) })).filter((k) => k.points.length);
  canvas.dataset.colours = JSON.stringify(groups.map((g) => g.colour));
  const chart = new Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: groups.map((g) => ({
        label: g.label,
        data: g.points.map((p) => ({ x: p.bits, y: p.error })),
        backgroundColor: g.colour,
        borderColor: g.colour,
        pointStyle: g.shape,
        pointRadius: g.radius,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: true, labels: { color: text, usePointStyle: true } },
        tooltip: {
          callbacks: {
            label: (item) => {
              const p = groups[item.datasetIndex].points[item.dataIndex];
              return `${p.label}: ${fmt(p.bits, 4)} bpw, rel. RMSE ${fmt(p.error, 3)}`;
            },
          },
        },
      },
      scales: {
        x: { title: { display: true, text: 'bits per weight', color: text }, ticks: { color: text }, grid: { color: grid } },
        y: {
          type: 'logarithmic',
          title: { display: true, text: 'relative RMSE', color: text },
          ticks: { color: text },
          grid: { color: grid },
        },
      },
    },
  });
  charts.set(canvas, chart);
}

/** A canvas as a PNG of its own size, on the editor's background (a chart's own is transparent): base64. */
export function canvasPng(canvas: HTMLCanvasElement): string {
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = chartColours().background;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  return out.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
}

/** Fraction of a canvas's pixels that are painted (tests use it to see a chart was drawn). */
export function inked(canvas: HTMLCanvasElement): number {
  const ctx = canvas.getContext('2d');
  if (!ctx || !canvas.width || !canvas.height) return 0;
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
  return n / (canvas.width * canvas.height);
}
