/** chart.js charts in the theme's colours: histograms (linear or log y) and the error-vs-bits chart. */
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
import { fmt, themeColor } from './dom.ts';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, Tooltip, Legend, ScatterController, PointElement);

export interface HistogramInput {
  lo: number;
  hi: number;
  counts: number[];
}

const charts = new WeakMap<HTMLCanvasElement, Chart>();

function baseColors() {
  return {
    text: themeColor('foreground', '#cccccc'),
    grid: themeColor('editorWidget-border', 'rgba(128,128,128,0.25)'),
  };
}

/** Draw (or redraw) a histogram into a canvas. Series share the bins of the first. */
export function drawHistogram(
  canvas: HTMLCanvasElement,
  series: { label: string; histogram: HistogramInput; color: string }[],
  scale: 'linear' | 'log',
  onDrawn?: () => void,
): void {
  charts.get(canvas)?.destroy();
  const first = series[0].histogram;
  const bins = first.counts.length;
  const width = (first.hi - first.lo) / bins;
  const labels = Array.from({ length: bins }, (_, i) => fmt(first.lo + (i + 0.5) * width, 3));
  const { text, grid } = baseColors();
  const chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: series.map((s) => ({
        label: s.label,
        data: s.histogram.counts.map((c) => (scale === 'log' && c === 0 ? null : c)),
        backgroundColor: s.color,
        borderWidth: 0,
        barPercentage: 1,
        categoryPercentage: 1,
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

/** Error (relative RMSE, log scale) against bits per weight for each candidate; the current type highlighted. */
export function drawErrorVsBits(
  canvas: HTMLCanvasElement,
  points: { label: string; bits: number; error: number; current: boolean; ggml: boolean }[],
): void {
  charts.get(canvas)?.destroy();
  const { text, grid } = baseColors();
  const color = (p: { current: boolean; ggml: boolean }) =>
    p.current
      ? themeColor('charts-red', '#f14c4c')
      : p.ggml
        ? themeColor('charts-blue', '#3794ff')
        : themeColor('charts-orange', '#d18616');
  const chart = new Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: [
        {
          label: 'candidates',
          data: points.filter((p) => p.error > 0).map((p) => ({ x: p.bits, y: p.error })),
          pointBackgroundColor: points.filter((p) => p.error > 0).map(color),
          pointRadius: 5,
        },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => {
              const p = points.filter((q) => q.error > 0)[item.dataIndex];
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

/** Fraction of a canvas's pixels that are painted (tests use it to see a chart was drawn). */
export function inked(canvas: HTMLCanvasElement): number {
  const ctx = canvas.getContext('2d');
  if (!ctx || !canvas.width || !canvas.height) return 0;
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
  return n / (canvas.width * canvas.height);
}
