/**
 * The evaluation report as HTML for the editor's report panel (src/extension/evalPanel.ts): the statistics, an
 * inline SVG plot of KLD per scored position in the theme's chart colours (CSS variables) with a table of its values
 * as the text alternative, the highest-KLD tokens, and the evaluated text with those tokens marked by a border and
 * their rank (not by colour alone). Everything from the model or the user is HTML-escaped; no script, no resource.
 */
import type { EvalSummary } from './scoring.ts';
import { highestKld } from './evalReport.ts';
import { escapeText } from '../errors.ts';
import { basename } from 'node:path';

/** Text as HTML: control characters escaped as in error messages, then the markup characters. */
export function html(text: string): string {
  return escapeText(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A token's text as HTML inside the pre-wrapped text: line breaks kept, other control characters escaped. */
function pieceHtml(piece: string): string {
  return piece
    .split('\n')
    .map((line) => html(line))
    .join('\n');
}

const f6 = (x: number) => x.toFixed(6);

/** Columns of the plot: each the highest KLD among a run of consecutive scored positions. */
export interface PlotColumn {
  /** First and last scored position (0-based, into positions) in the column. */
  from: number;
  to: number;
  max: number;
}

export function plotColumns(kld: readonly number[], columns: number): PlotColumn[] {
  const per = Math.max(1, Math.ceil(kld.length / columns));
  const out: PlotColumn[] = [];
  for (let i = 0; i < kld.length; i += per) {
    const to = Math.min(kld.length, i + per) - 1;
    let max = -Infinity;
    for (let j = i; j <= to; j++) max = Math.max(max, kld[j]);
    out.push({ from: i, to, max });
  }
  return out;
}

const PLOT_W = 800;
const PLOT_H = 160;
const PAD_L = 56;
const PAD_B = 22;

function plotSvg(r: EvalSummary): string {
  const cols = plotColumns(r.positions.kld, 400);
  const top = Math.max(r.kld.max, 1e-12);
  const w = (PLOT_W - PAD_L) / Math.max(1, cols.length);
  const y = (v: number) => PLOT_H - PAD_B - (v / top) * (PLOT_H - PAD_B - 8);
  const bars = cols
    .map((c, i) => `M${(PAD_L + i * w).toFixed(2)} ${(PLOT_H - PAD_B).toFixed(2)}V${y(c.max).toFixed(2)}h${w.toFixed(2)}V${PLOT_H - PAD_B}`)
    .join('');
  const meanY = y(r.kld.mean).toFixed(2);
  return `<svg class="plot" viewBox="0 0 ${PLOT_W} ${PLOT_H}" role="img" aria-labelledby="plot-title plot-desc" data-testid="kld-plot">
<title id="plot-title">KLD per scored position</title>
<desc id="plot-desc">${r.scored} positions in ${r.chunks} chunks; highest ${f6(r.kld.max)}, mean ${f6(r.kld.mean)} (dashed line). The table below the plot lists the same values.</desc>
<path class="bars" d="${bars}"/>
<line class="mean" x1="${PAD_L}" x2="${PLOT_W}" y1="${meanY}" y2="${meanY}"/>
<line class="axis" x1="${PAD_L}" x2="${PAD_L}" y1="4" y2="${PLOT_H - PAD_B}"/>
<line class="axis" x1="${PAD_L}" x2="${PLOT_W}" y1="${PLOT_H - PAD_B}" y2="${PLOT_H - PAD_B}"/>
<text x="${PAD_L - 4}" y="12" text-anchor="end">${top.toPrecision(3)}</text>
<text x="${PAD_L - 4}" y="${PLOT_H - PAD_B}" text-anchor="end">0</text>
<text x="${PAD_L}" y="${PLOT_H - 6}">1</text>
<text x="${PLOT_W}" y="${PLOT_H - 6}" text-anchor="end">${r.scored} (scored position)</text>
</svg>`;
}

/** The plot's values as a table (at most 50 rows): its text alternative. */
function plotTable(r: EvalSummary): string {
  const rows = plotColumns(r.positions.kld, 50)
    .map((c) => {
      const range = c.from === c.to ? `${c.from + 1}` : `${c.from + 1}–${c.to + 1}`;
      return `<tr><td>${range}</td><td>${f6(c.max)}</td></tr>`;
    })
    .join('');
  return `<details data-testid="plot-values"><summary>The plot's values</summary>
<table class="values"><thead><tr><th scope="col">Scored positions</th><th scope="col">Highest KLD</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}

export interface ReportHtmlOptions {
  /** How many of the highest-KLD tokens to list and mark. */
  marked?: number;
}

/** The report's body (statistics, plot, highest-KLD tokens, the marked text), without the page around it. */
export function evalReportHtml(r: EvalSummary, textSource: string, options: ReportHtmlOptions = {}): string {
  const worst = highestKld(r, options.marked ?? 10);
  const rankOf = new Map(worst.map((p, rank) => [r.positions.index[p], { rank: rank + 1, p }]));
  const pplChange = 100 * (Math.exp(r.lnPplRatio) - 1);
  const stat = (label: string, value: string, id: string) => `<tr><th scope="row">${label}</th><td data-stat="${id}">${value}</td></tr>`;
  const text = r.pieces
    .map((piece, i) => {
      const m = rankOf.get(i);
      if (!m) return pieceHtml(piece);
      const kld = r.positions.kld[m.p];
      const label = `rank ${m.rank}, KLD ${f6(kld)}${r.positions.sameTop[m.p] ? '' : ', top tokens differ'}`;
      return `<mark id="mark-${m.rank}" title="${label}"><span class="visually-hidden">[</span>${pieceHtml(piece)}<sup aria-label="${label}">${m.rank}</sup><span class="visually-hidden">]</span></mark>`;
    })
    .join('');
  const worstRows = worst
    .map((p, rank) => {
      const index = r.positions.index[p];
      return `<tr><td><a href="#mark-${rank + 1}">${rank + 1}</a></td><td>${index}</td><td><code>${html(r.pieces[index] ?? '')}</code></td><td>${f6(r.positions.kld[p])}</td><td>${r.positions.sameTop[p] ? 'yes' : 'no'}</td></tr>`;
    })
    .join('');
  return `<h1>Output evaluation: ${html(basename(r.model))}</h1>
<p class="muted">Model ${html(r.model)}; reference ${html(r.reference)}; text: ${html(textSource)} (${r.tokens} tokens, ${r.chunks} chunks of ${r.ctx}, ${r.scored} positions scored as llama-perplexity does; ${r.seconds.toFixed(1)} s).</p>
<table class="stats" data-testid="eval-stats"><tbody>
${stat('KLD mean', f6(r.kld.mean), 'kld-mean')}
${stat('KLD median', f6(r.kld.median), 'kld-median')}
${stat('KLD p90', f6(r.kld.p90), 'kld-p90')}
${stat('KLD p99', f6(r.kld.p99), 'kld-p99')}
${stat('KLD max', f6(r.kld.max), 'kld-max')}
${stat('Same top token', `${(100 * r.sameTop).toFixed(3)} %`, 'same-top')}
${stat('Perplexity', r.perplexity.toFixed(4), 'ppl')}
${stat('Perplexity of the reference', r.perplexityRef.toFixed(4), 'ppl-ref')}
${stat('Perplexity change', `${pplChange >= 0 ? '+' : ''}${pplChange.toFixed(3)} %`, 'ppl-change')}
</tbody></table>
<h2>KLD per position</h2>
${plotSvg(r)}
${plotTable(r)}
<h2>Highest-KLD tokens</h2>
<table class="worst" data-testid="eval-worst"><thead><tr><th scope="col">Rank</th><th scope="col">Token index</th><th scope="col">Next token</th><th scope="col">KLD</th><th scope="col">Same top</th></tr></thead><tbody>${worstRows}</tbody></table>
<h2>The text, the ${worst.length} highest-KLD tokens marked with their rank</h2>
<pre class="text" data-testid="eval-text">${text}</pre>`;
}

/** The report panel's styles: theme variables only (dark, light and high-contrast follow the theme). */
export const REPORT_CSS = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 20px 20px; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
.muted { color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 2px 12px 2px 0; border-bottom: 1px solid var(--vscode-widget-border, var(--vscode-panel-border)); }
td[data-stat] { font-variant-numeric: tabular-nums; }
.plot { width: 100%; max-width: 900px; height: auto; display: block; }
.plot .bars { fill: var(--vscode-charts-blue); }
.plot .mean { stroke: var(--vscode-charts-orange); stroke-dasharray: 6 4; stroke-width: 1.5; }
.plot .axis { stroke: var(--vscode-foreground); stroke-width: 1; }
.plot text { fill: var(--vscode-foreground); font-size: 11px; }
pre.text { white-space: pre-wrap; word-break: break-word; font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); padding: 8px; }
mark { background: var(--vscode-editor-findMatchHighlightBackground); color: inherit; outline: 2px solid var(--vscode-charts-red); border-radius: 2px; }
mark sup { font-weight: bold; color: var(--vscode-charts-red); margin-left: 1px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.actions { display: flex; gap: 8px; margin: 12px 0; flex-wrap: wrap; }
button { font-family: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: 1px solid var(--vscode-button-border, transparent); padding: 4px 12px; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
progress { width: 100%; max-width: 600px; accent-color: var(--vscode-progressBar-background); }
.error { color: var(--vscode-errorForeground); }
`;
