/**
 * The evaluation report as Markdown (the editor's Evaluate on Outputs… shows it): the statistics, a plot of KLD
 * per scored position (one bar character per group of positions, the group's highest KLD), the highest-KLD
 * positions with the token predicted there, and the evaluated text with those tokens marked ⟦like this⟧. Text from
 * the model's vocabulary is escaped and shown inside fenced blocks, so it is never read as markup.
 */
import { escapeText } from '../errors.ts';
import type { EvalSummary } from './scoring.ts';

const BARS = '▁▂▃▄▅▆▇█';

/** One character per column: the highest value among the positions in it, scaled to the highest overall. */
export function klDPlot(kld: readonly number[], columns = 100): string {
  if (!kld.length) return '';
  const per = Math.ceil(kld.length / columns);
  const peaks: number[] = [];
  for (let i = 0; i < kld.length; i += per) peaks.push(Math.max(...kld.slice(i, i + per)));
  const top = Math.max(...peaks);
  return peaks.map((v) => (top > 0 ? BARS[Math.min(BARS.length - 1, Math.floor((v / top) * BARS.length))] : BARS[0])).join('');
}

const fence = (text: string) => '~~~~text\n' + text.replace(/~~~~/g, '~ ~ ') + '\n~~~~';

/** The scored positions (indexes into r.positions) of the `n` highest KLDs, highest first (ties: earlier first). */
export function highestKld(r: EvalSummary, n: number): number[] {
  return r.positions.kld
    .map((_, i) => i)
    .sort((a, b) => r.positions.kld[b] - r.positions.kld[a] || a - b)
    .slice(0, n);
}

/** The report as JSON (quantlens eval --json and the report panel's export): every figure, without the token texts. */
export function evalJson(r: EvalSummary, textSource: string): string {
  const { pieces: _pieces, ...rest } = r;
  void _pieces;
  return JSON.stringify({ ...rest, text: textSource }, null, 1) + '\n';
}

export function evalMarkdown(r: EvalSummary, textSource: string, marked = 10): string {
  const f = (x: number) => x.toFixed(6);
  const worst = highestKld(r, marked);
  const markedIndex = new Set(worst.map((i) => r.positions.index[i]));
  const piece = (i: number) => escapeText(r.pieces[i] ?? '');
  const text = r.pieces.map((_, i) => (markedIndex.has(i) ? `⟦${piece(i)}⟧` : piece(i))).join('');
  return [
    `# Output evaluation: ${escapeText(r.model)}`,
    '',
    `Reference ${escapeText(r.reference)}; text: ${escapeText(textSource)} (${r.tokens} tokens, ${r.chunks} chunks of ${r.ctx}, ${r.scored} positions scored as llama-perplexity does).`,
    '',
    '| Statistic | Value |',
    '| --- | --- |',
    `| KLD mean | ${f(r.kld.mean)} |`,
    `| KLD median | ${f(r.kld.median)} |`,
    `| KLD p90 | ${f(r.kld.p90)} |`,
    `| KLD p99 | ${f(r.kld.p99)} |`,
    `| KLD max | ${f(r.kld.max)} |`,
    `| Same top token | ${(100 * r.sameTop).toFixed(3)} % |`,
    `| Perplexity | ${r.perplexity.toFixed(4)} |`,
    `| Perplexity of the reference | ${r.perplexityRef.toFixed(4)} |`,
    `| Perplexity change | ${(100 * (Math.exp(r.lnPplRatio) - 1)).toFixed(3)} % |`,
    '',
    `## KLD per position (max ${f(r.kld.max)})`,
    '',
    fence(klDPlot(r.positions.kld)),
    '',
    '## Highest-KLD tokens',
    '',
    '| Token index | Next token | KLD | Same top |',
    '| --- | --- | --- | --- |',
    ...worst.map(
      (i) =>
        `| ${r.positions.index[i]} | \`${piece(r.positions.index[i]).replace(/[`|]/g, '?')}\` | ${f(r.positions.kld[i])} | ${r.positions.sameTop[i] ? 'yes' : 'no'} |`,
    ),
    '',
    `## The text, the ${worst.length} highest-KLD tokens marked ⟦⟧`,
    '',
    fence(text),
    '',
  ].join('\n');
}
