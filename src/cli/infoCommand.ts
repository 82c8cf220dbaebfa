/**
 * `quantlens info FILE [--json]`: format, metadata, tensors and size by type. A GGUF file opens with the header reader
 * alone: the Hugging Face quantization code (logical weights of GPTQ, AWQ ... checkpoints) is loaded only for a folder
 * or a safetensors model, the only inputs that can have logical weights.
 */
import { statSync, writeSync } from 'node:fs';
import type { Model, TensorInfo } from '../core/model.ts';
import { escapeText, showText, MAX_SHOWN } from '../core/errors.ts';
import { entryToJson, describeValue } from '../core/analysis/metadataJson.ts';
import { summarize, formatBytes, formatCount } from '../core/analysis/summary.ts';
import { openModel } from '../core/formats/openModel.ts';
import { isUrl } from '../core/io/location.ts';
import type { QuantizedModel } from '../core/hfquant/open.ts';

function tensorJson(model: Model, t: TensorInfo) {
  return {
    name: t.name,
    ...(model.format === 'gguf' ? { n_dims: t.shape.length, ne: t.shape, type_id: t.ggmlTypeId } : { shape: t.shape, dtype: t.dtype }),
    type_name: t.type.ggmlName ?? t.type.name,
    offset: t.offset,
    absolute_offset: t.absoluteOffset,
    nbytes: t.nbytes,
    n_elements: t.nElements,
    bits_per_weight: t.type.bitsPerWeight,
    ...(model.files.length > 1 ? { file: model.files[t.fileIndex].path } : {}),
  };
}

/**
 * Standard output for long listings: lines are gathered into pieces of about 1 MB and each piece is written before
 * the next is gathered, so a header of millions of keys streams in bounded memory instead of becoming one huge string.
 * A piece goes straight to file descriptor 1 with blocking writes: process.stdout would first load Node's stream
 * classes (a few ms of a 40 ms `info`). Only a non-blocking pipe (EAGAIN) is left to process.stdout, waiting for it to
 * drain; a reader that closed the pipe (EPIPE, `quantlens info ... | head`) ends the output without an error.
 */
class StreamedOutput {
  private closed = false;
  private viaStream = false;
  private lines: string[] = [];
  private size = 0;
  /** Adds a line; returns a promise to await only when a piece was handed to the pipe. */
  line(text: string): Promise<void> | undefined {
    this.lines.push(text);
    this.size += text.length + 1;
    return this.size >= 1 << 20 ? this.flush() : undefined;
  }
  async flush(): Promise<void> {
    if (!this.lines.length) return;
    const piece = this.lines.join('\n') + '\n';
    this.lines = [];
    this.size = 0;
    if (this.closed) return;
    let bytes = Buffer.from(piece);
    if (!this.viaStream) {
      try {
        while (bytes.length) bytes = bytes.subarray(writeSync(1, bytes));
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          this.closed = true;
          return;
        }
        if (code !== 'EAGAIN') throw e;
        this.viaStream = true;
      }
    }
    if (!process.stdout.write(bytes)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

/** `value` as JSON.stringify(value, null, 1) would print it as an element of a top-level array. */
function indentedJson(value: unknown): string {
  return '  ' + JSON.stringify(value, null, 1).replace(/\n/g, '\n  ');
}

function isLocalFolder(input: string): boolean {
  if (isUrl(input)) return false;
  try {
    return statSync(input).isDirectory();
  } catch {
    return false;
  }
}

type HfQuant = typeof import('../core/hfquant/open.ts');

/**
 * What openModelAndWeights (core/hfquant/open.ts) returns, with that module imported only when the input can have
 * logical weights: a GGUF model has none, so its view is undefined without asking.
 */
async function openForInfo(file: string): Promise<{ model: Model; view?: QuantizedModel; hf?: HfQuant }> {
  if (isLocalFolder(file)) {
    const hf = await import('../core/hfquant/open.ts');
    return { ...(await hf.openModelAndWeights(file)), hf };
  }
  const model = await openModel(file);
  if (model.format !== 'safetensors') return { model };
  try {
    const hf = await import('../core/hfquant/open.ts');
    // a Hub reference resolves to a URL: the configs are beside the file the model came from
    const location = isUrl(model.files[0]?.path ?? '') ? model.files[0].path : file;
    return { model, view: await hf.quantizedViewOf(model, location), hf };
  } catch (e) {
    await model.close();
    throw e;
  }
}

export async function infoCommand(file: string, json: boolean): Promise<void> {
  const { model, view, hf } = await openForInfo(file);
  const o = new StreamedOutput();
  try {
    const logical = view ? await import('./logicalWeights.ts') : undefined;
    // the data-level checks a publisher wants (v1 zero overflow, act-order g_idx, g_idx range) read each weight's
    // scales, zeros and indices: a few percent of the checkpoint, never its packed codes
    if (view) for (const w of view.weights) w.load();
    const s = view && hf ? hf.logicalSummary(summarize(model), view) : summarize(model);
    if (json) {
      const head = JSON.stringify(
        {
          format: model.format,
          ...(model.format === 'gguf'
            ? { gguf_version: model.ggufVersion, alignment: model.alignment }
            : { header_length: model.headerEnd }),
          data_offset: model.dataOffset,
          files: model.files.map((f) => ({ path: f.path, size: f.size })),
          summary: s,
          ...(view && logical ? { quantization: logical.logicalInfoJson(view) } : {}),
        },
        null,
        1,
      );
      await o.line(head.slice(0, -2) + ',');
      const list = async <T>(name: string, items: readonly T[], toJson: (item: T) => unknown, last: boolean) => {
        await o.line(` "${name}": [`);
        for (const [i, item] of items.entries()) {
          const j = toJson(item);
          await o.line(indentedJson(j instanceof Promise ? await j : j) + (i + 1 < items.length ? ',' : ''));
        }
        await o.line(` ]${last ? '' : ','}`);
      };
      await list('kv', model.metadata, (m) => entryToJson(model, m), false);
      await list('tensors', model.tensors, (t) => tensorJson(model, t), true);
      await o.line('}');
      return;
    }
    // Every name and value from the file is escaped and cut (showText, describeValue), its full length shown.
    const lines = [
      escapeText(file),
      `  format        ${s.format}${s.files > 1 ? ` (${s.files} files)` : ''}${model.alignment ? `, alignment ${model.alignment}` : ''}, data at byte ${model.dataOffset}`,
      ...(view ? [`  quantization  ${showText(view.summary, 400)}`] : []),
      ...(s.architecture ? [`  architecture  ${showText(s.architecture)}`] : []),
      ...(s.name ? [`  name          ${showText(s.name)}`] : []),
      ...(s.fileType ? [`  file type     ${s.fileType}`] : []),
      `  parameters    ${formatCount(s.parameterCount)} (${s.parameterCount})`,
      `  tensors       ${s.tensorCount}, ${formatBytes(s.tensorBytes)}, ${s.averageBitsPerWeight.toFixed(3)} bits per weight`,
      `  by type       ${s.byType.map((b) => `${b.type} ${b.tensors} (${formatBytes(b.bytes)})`).join(', ')}`,
      '',
      `metadata (${model.metadata.length} keys)`,
    ];
    for (const line of lines) await o.line(line);
    for (const m of model.metadata)
      await o.line(`  ${showText(m.key).padEnd(40)} ${m.type.padEnd(8)} ${describeValue(m.value, MAX_SHOWN)}`);
    await o.line('');
    if (view && logical) {
      for (const line of logical.logicalInfoLines(view)) await o.line(line);
      return;
    }
    await o.line(`tensors (${model.tensors.length})`);
    await o.line(
      `  ${'name'.padEnd(36)} ${'shape'.padEnd(18)} ${'type'.padEnd(9)} ${'bpw'.padStart(7)} ${'bytes'.padStart(12)} ${'offset'.padStart(12)}`,
    );
    for (const t of model.tensors) {
      await o.line(
        `  ${showText(t.name).padEnd(36)} ${`[${t.shape.join(', ')}]`.padEnd(18)} ${t.type.name.padEnd(9)} ${Number.isFinite(t.type.bitsPerWeight) ? t.type.bitsPerWeight.toFixed(3).padStart(7) : '?'.padStart(7)} ${String(t.nbytes).padStart(12)} ${String(t.offset).padStart(12)}`,
      );
    }
  } finally {
    await o.flush();
    await model.close();
  }
}
