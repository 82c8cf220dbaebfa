/**
 * A model as stable, diffable text (the "Quant Lens dump"): header, metadata, tensors grouped by block, stats
 * when they have been computed. No offsets or file paths beyond the file name, so two dumps diff well.
 * Grammar: syntaxes/quantlens-dump.tmLanguage.json. Sections start with "== ", groups with "-- ".
 *
 * One record is always one line: a name or key is written bare when it is plain (a letter, digit or `_`, then
 * letters, marks, digits and `_ . : / + -`, at most MAX_DUMP_NAME characters), and otherwise as a JSON string
 * literal with every control, bidi and separator character escaped (`"a\nb"`, `"\u202e..."`), cut after
 * MAX_DUMP_NAME characters with its length shown (`"aaa…" (5000 chars)`). String values are quoted the same way,
 * summary values are escaped. So nothing in a file can start a line, and no line can pass for a section, group
 * or stats line. `dumpOutline` reads the structure back (the editor's outline and folding use it).
 */
import { basename } from 'node:path';
import type { Model } from '../model.ts';
import type { TensorStats } from '../analysis/tensorStats.ts';
import { summarize, formatCount } from '../analysis/summary.ts';
import { describeValue } from '../analysis/metadataJson.ts';
import { isPlainName, oneLine, PLAIN_NAME, quoteText, showText } from '../errors.ts';
import { blockOf } from '../analysis/quantMap.ts';
import { listedEntries, logicalSummary, type QuantizedModel } from '../hfquant/open.ts';

export const DUMP_HEADER = 'quantlens-dump 1';

function g(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x);
}

/** Longest name or key written whole (and longest summary value). */
export const MAX_DUMP_NAME = 200;
/** Longest metadata string value written whole. */
export const MAX_DUMP_VALUE = 200;

/** A tensor name or metadata key as the dump writes it: bare when plain, else a JSON string literal (cut when long). */
export function dumpName(name: string): string {
  return name.length <= MAX_DUMP_NAME && isPlainName(name) ? name : quoteText(name, MAX_DUMP_NAME);
}

export function statsLine(s: TensorStats): string {
  const special = s.nan_count + s.posinf_count + s.neginf_count ? ` nan=${s.nan_count} +inf=${s.posinf_count} -inf=${s.neginf_count}` : '';
  return `min=${g(s.min)} max=${g(s.max)} mean=${g(s.mean)} std=${g(s.std)} rms=${g(s.rms)} zeros=${s.zero_count}${special}`;
}

/**
 * A quantized Hugging Face checkpoint (`view`) lists its logical weights where their first component is: one
 * tensor line with the format id as the type, its logical shape and the bytes of all components, then indented
 * `scheme`, `component ROLE NAME DTYPE [SHAPE] N bytes`, `note` and `error` lines; its plain tensors as they are.
 */
export function dumpModel(model: Model, stats?: Map<string, TensorStats>, view?: QuantizedModel): string {
  const s = view ? logicalSummary(summarize(model), view) : summarize(model);
  const lines: string[] = [DUMP_HEADER];
  const kv = (k: string, v: string | number | undefined) => {
    if (v !== undefined) lines.push(`${k.padEnd(14)}${v}`);
  };
  const text = (v: string | undefined) => (v === undefined ? undefined : showText(v, MAX_DUMP_NAME));
  kv('file', model.files.map((f) => dumpName(basename(f.path))).join(', '));
  kv('format', s.format);
  kv('architecture', text(s.architecture));
  kv('name', text(s.name));
  kv('file_type', s.fileType);
  kv('parameters', `${s.parameterCount} (${formatCount(s.parameterCount)})`);
  kv('tensors', s.tensorCount);
  kv('bits/weight', s.averageBitsPerWeight.toFixed(4));
  kv('by_type', s.byType.map((b) => `${b.type}:${b.tensors}`).join(' '));
  if (view) kv('quantization', showText(view.summary, MAX_DUMP_VALUE));
  lines.push('', `== metadata (${model.metadata.length})`);
  for (const m of model.metadata) lines.push(`${dumpName(m.key)} ${m.type} ${describeValue(m.value, MAX_DUMP_VALUE)}`);
  const entries = view ? listedEntries(view) : model.tensors.map((tensor) => ({ tensor, weight: undefined }));
  lines.push('', `== tensors (${entries.length})`);
  const groups = new Map<string, typeof entries>();
  for (const e of entries) {
    const b = blockOf(e.weight?.name ?? e.tensor!.name);
    const key = b ? `block ${b.block}` : 'global';
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const bpwText = (x: number) => (Number.isFinite(x) ? `${x.toFixed(4)} bpw` : '? bpw');
  for (const [group, list] of groups) {
    lines.push(`-- ${group}`);
    for (const { tensor: t, weight: w } of list) {
      if (w) {
        lines.push(`${dumpName(w.name)} ${w.format.id} [${w.shape.join(', ')}] ${bpwText(w.bitsPerWeight)} ${w.bytes} bytes`);
        lines.push(`    scheme ${showText(w.scheme, MAX_DUMP_VALUE)}`);
        for (const [i, c] of w.components.entries())
          lines.push(`    component ${w.roles[i]} ${dumpName(c.name)} ${c.dtype ?? c.type.name} [${c.shape.join(', ')}] ${c.nbytes} bytes`);
        for (const d of w.diagnostics) lines.push(`    note ${showText(d, MAX_DUMP_VALUE)}`);
        if (w.error) lines.push(`    error ${showText(oneLine(w.error), MAX_DUMP_VALUE)}`);
      } else
        lines.push(`${dumpName(t!.name)} ${t!.type.name} [${t!.shape.join(', ')}] ${bpwText(t!.type.bitsPerWeight)} ${t!.nbytes} bytes`);
      const st = stats?.get(w?.name ?? t!.name);
      if (st) lines.push(`    stats ${statsLine(st)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The line shapes of the dump, shared by the outline here and mirrored by the TextMate grammar. */
const NAME = String.raw`(?:"(?:[^"\\]|\\.)*"(?: \(\d+ chars\))?|${PLAIN_NAME})`;
const DUMP_SECTION = /^== (\w+) \(\d+\)$/;
const DUMP_GROUP = /^-- (global|block \d+)$/;
const DUMP_TENSOR = new RegExp(String.raw`^(${NAME}) (\S+(?: type \d+)?) \[[\d, ]*\] [\d.?]+ bpw \d+ bytes$`, 'u');
const DUMP_METADATA = new RegExp(String.raw`^(${NAME}) ([A-Z0-9]+) `, 'u');

export interface DumpSymbol {
  kind: 'section' | 'group' | 'tensor' | 'key';
  /** The section or group title, or the name or key as written (quoted when it is not plain). */
  name: string;
  /** Tensor type, metadata value type, or the section line after "== ". */
  detail: string;
  /** First and last line (0-based) the symbol spans. */
  line: number;
  endLine: number;
  children: DumpSymbol[];
}

/** The structure of a dump: sections holding metadata keys, or groups holding tensors; each spans to the next of its kind. */
export function dumpOutline(lines: string[]): DumpSymbol[] {
  const out: DumpSymbol[] = [];
  let section: DumpSymbol | undefined;
  let group: DumpSymbol | undefined;
  const close = (s: DumpSymbol | undefined, line: number) => {
    if (s) s.endLine = Math.max(s.line, line);
  };
  const symbol = (kind: DumpSymbol['kind'], name: string, detail: string, line: number): DumpSymbol => ({
    kind,
    name,
    detail,
    line,
    endLine: line,
    children: [],
  });
  for (const [i, text] of lines.entries()) {
    let m: RegExpExecArray | null;
    if ((m = DUMP_SECTION.exec(text))) {
      close(group, i - 1);
      close(section, i - 1);
      group = undefined;
      section = symbol('section', m[1], text.slice(3), i);
      out.push(section);
    } else if ((m = DUMP_GROUP.exec(text)) && section) {
      close(group, i - 1);
      group = symbol('group', m[1], '', i);
      section.children.push(group);
    } else if (section?.name === 'tensors' && (m = DUMP_TENSOR.exec(text))) {
      (group ?? section).children.push(symbol('tensor', m[1], m[2], i));
    } else if (section?.name === 'metadata' && (m = DUMP_METADATA.exec(text))) {
      section.children.push(symbol('key', m[1], m[2], i));
    }
  }
  close(group, lines.length - 1);
  close(section, lines.length - 1);
  return out;
}
