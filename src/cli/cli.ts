/**
 * quantlens — the command-line face of the Quant Lens core.
 * Exit status: 0 success, 1 usage error, 2 invalid or unreadable input (one line `error: ...` on stderr).
 */
import { parseArgs } from 'node:util';
import type { Model, TensorInfo } from '../core/model.ts';
import { QuantLensError, oneLine, cliLine, escapeText, showText, MAX_SHOWN } from '../core/errors.ts';
import { DEFAULT_BINS } from '../core/analysis/tensorStats.ts';
import { forEachChunk } from '../core/analysis/tensorValues.ts';
import { entryToJson, describeValue } from '../core/analysis/metadataJson.ts';
import { summarize, formatBytes, formatCount } from '../core/analysis/summary.ts';
import { writeSampleModel } from '../core/sample/sampleModel.ts';
import { writeFileAtomically, removeTemporaryFiles } from '../core/io/atomicWrite.ts';
import { quantizeCommand, requantizeCommand, errorCommand, simulateCommand } from './quantCommands.ts';
import { parseThreads } from './workers.ts';
import { compareCommand, reportCommand, dumpCommand } from './reportCommands.ts';
import { statsCommand } from './statsCommand.ts';
import { logicalSummary, openModelAndWeights } from '../core/hfquant/open.ts';
import { logicalInfoJson, logicalInfoLines } from './logicalWeights.ts';
import { evalCommand, sensitivityCommand, suggestCommand } from './evalCommands.ts';

const USAGE = `usage: quantlens <command> [options]

commands:
  info FILE [--json]                                  format, metadata, tensors, size by type
  stats FILE [--tensor REGEX] [--bins N] [--threads N] [--json]
                                                      exact per-tensor statistics and histograms
  dequant FILE TENSOR -o OUT.f32                      a tensor's values as raw little-endian float32
  quantize --type TYPE --row-length N [--imatrix IMATRIX.f32] IN.f32 -o OUT.bin
                                                      raw blocks, as ggml_quantize_chunk writes them
  requantize IN.gguf OUT.gguf --tensor-type REGEX=TYPE [...] [--imatrix FILE] [--keep-split] [--threads N] [--json]
                                                      a new GGUF with the matching tensors at TYPE (last rule wins);
                                                      --keep-split writes a split input as the same shards
  simulate IN.safetensors OUT.safetensors --tensor-type REGEX=TYPE_OR_SCHEME [...] [--threads N] [--json]
                                                      chosen tensors replaced by quantize -> dequantize, same dtype
  error FILE [--tensor REGEX] [--candidates q8_0,q4_K,int4-sym-g32,nf4,...] [--imatrix FILE] [--json]
                                                      what-if error of each candidate type or scheme
  compare FILE REF [--tensor REGEX] [--json]          per-tensor error of FILE against a reference model
  report FILE [--compare REF] --format md|json|csv    summary, tensors, stats (and errors) to paste elsewhere
  dump FILE [--stats]                                 the model as stable, diffable text
  sample OUT.gguf                                     write the bundled sample model
  eval MODEL --reference REF [--text FILE] [--ctx N] [--chunks N] [--threads N] [--json]
                                                      KLD, same top token and perplexity against REF (llama.cpp)
  sensitivity MODEL --type T [--text FILE] [--by kind|block] [--ctx N] [--chunks N] [--json]
                                                      KLD of each group quantized alone to T
  suggest MODEL --target-bpw X|--target-size GB [--types Q8_0,Q5_0,Q4_0] [--text FILE] [--by kind|block]
                                                      types per group for a size budget, as --tensor-type lines

FILE is a .gguf (any shard of a split model), a .safetensors file or a model.safetensors.index.json, local or by
http(s) URL or Hub reference (owner/repo/file.gguf; HF_TOKEN is sent to huggingface.co only). A local quantized
Hugging Face checkpoint (GPTQ, AWQ, bitsandbytes, FP8, compressed-tensors, MLX, HQQ ...; FILE may be its folder) is
shown as its logical weights: info lists them with their components, stats and dequant take logical names
(dequant writes float32 [out, in]).`;

class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

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
 * Standard output for long listings: lines are gathered into pieces of about 1 MB and each piece waits for the
 * pipe to drain, so a header of millions of keys streams in bounded memory instead of becoming one huge string.
 */
class StreamedOutput {
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
    if (!process.stdout.write(piece)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

/** `value` as JSON.stringify(value, null, 1) would print it as an element of a top-level array. */
function indentedJson(value: unknown): string {
  return '  ' + JSON.stringify(value, null, 1).replace(/\n/g, '\n  ');
}

async function info(file: string, json: boolean): Promise<void> {
  const { model, view } = await openModelAndWeights(file);
  const o = new StreamedOutput();
  try {
    // the data-level checks a publisher wants (v1 zero overflow, act-order g_idx, g_idx range) read each weight's
    // scales, zeros and indices: a few percent of the checkpoint, never its packed codes
    if (view) for (const w of view.weights) w.load();
    const s = view ? logicalSummary(summarize(model), view) : summarize(model);
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
          ...(view ? { quantization: logicalInfoJson(view) } : {}),
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
    if (view) {
      for (const line of logicalInfoLines(view)) await o.line(line);
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

async function dequant(file: string, tensorName: string, outPath: string): Promise<void> {
  const { model, view } = await openModelAndWeights(file);
  try {
    const weight = view?.weights.find((w) => w.name === tensorName);
    const t = weight ? undefined : model.tensors.find((x) => x.name === tensorName);
    if (!weight && !t) throw new QuantLensError('usage', `no tensor named ${tensorName} in ${file}`);
    const writeF32 = (write: (bytes: Uint8Array) => void) => (f32: Float32Array) =>
      write(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
    await writeFileAtomically(
      outPath,
      (write) => {
        if (weight) weight.forEachChunk(writeF32(write));
        else forEachChunk(model, t!, (values) => writeF32(write)(values instanceof Float32Array ? values : Float32Array.from(values)));
      },
      { protect: [file, ...model.files.map((f) => f.path)] },
    );
    const what = weight
      ? `${weight.rows * weight.cols} float32 values of ${showText(weight.name)} ([${weight.shape.join(', ')}], ${weight.scheme})`
      : `${t!.nElements} float32 values of ${showText(t!.name)}`;
    process.stderr.write(`wrote ${what} to ${escapeText(outPath)}\n`);
  } finally {
    await model.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out(USAGE);
    return command ? 0 : 1;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      tensor: { type: 'string' },
      bins: { type: 'string' },
      output: { type: 'string', short: 'o' },
      type: { type: 'string' },
      'row-length': { type: 'string' },
      imatrix: { type: 'string' },
      'tensor-type': { type: 'string', multiple: true },
      candidates: { type: 'string' },
      compare: { type: 'string' },
      format: { type: 'string' },
      stats: { type: 'boolean', default: false },
      threads: { type: 'string' },
      reference: { type: 'string' },
      text: { type: 'string' },
      ctx: { type: 'string' },
      chunks: { type: 'string' },
      by: { type: 'string' },
      types: { type: 'string' },
      'target-bpw': { type: 'string' },
      'target-size': { type: 'string' },
      'keep-split': { type: 'boolean', default: false },
    },
  });
  const evalOptions = { text: values.text, ctx: values.ctx, chunks: values.chunks, threads: values.threads, json: values.json! };
  switch (command) {
    case 'info':
      if (positionals.length !== 1) throw new UsageError('info takes one FILE');
      await info(positionals[0], values.json!);
      return 0;
    case 'stats': {
      if (positionals.length !== 1) throw new UsageError('stats takes one FILE');
      const bins = values.bins === undefined ? DEFAULT_BINS : Number(values.bins);
      if (!Number.isInteger(bins) || bins < 1 || bins > 1 << 20) throw new UsageError('--bins must be an integer from 1 to 1048576');
      await statsCommand(positionals[0], values.tensor, bins, values.json!, parseThreads(values.threads));
      return 0;
    }
    case 'dequant':
      if (positionals.length !== 2 || !values.output) throw new UsageError('dequant takes FILE TENSOR -o OUT.f32');
      await dequant(positionals[0], positionals[1], values.output);
      return 0;
    case 'quantize':
      if (positionals.length !== 1 || !values.output || !values.type || !values['row-length'])
        throw new UsageError('quantize takes --type TYPE --row-length N IN.f32 -o OUT.bin');
      await quantizeCommand(positionals[0], values.type, Number(values['row-length']), values.output, values.imatrix);
      return 0;
    case 'requantize':
      if (positionals.length !== 2) throw new UsageError('requantize takes IN.gguf OUT.gguf --tensor-type REGEX=TYPE [...]');
      await requantizeCommand(
        positionals[0],
        positionals[1],
        values['tensor-type'] ?? [],
        values.imatrix,
        values.json!,
        parseThreads(values.threads),
        values['keep-split'],
      );
      return 0;
    case 'simulate':
      if (positionals.length !== 2)
        throw new UsageError('simulate takes IN.safetensors OUT.safetensors --tensor-type REGEX=TYPE_OR_SCHEME [...]');
      await simulateCommand(positionals[0], positionals[1], values['tensor-type'] ?? [], values.json!, parseThreads(values.threads));
      return 0;
    case 'error':
      if (positionals.length !== 1) throw new UsageError('error takes one FILE');
      await errorCommand(positionals[0], values.tensor, values.candidates, values.json!, values.imatrix);
      return 0;
    case 'compare':
      if (positionals.length !== 2) throw new UsageError('compare takes FILE REF');
      await compareCommand(positionals[0], positionals[1], values.tensor, values.json!);
      return 0;
    case 'report':
      if (positionals.length !== 1) throw new UsageError('report takes one FILE');
      await reportCommand(positionals[0], values.compare, values.format ?? 'md');
      return 0;
    case 'dump':
      if (positionals.length !== 1) throw new UsageError('dump takes one FILE');
      await dumpCommand(positionals[0], values.stats!);
      return 0;
    case 'sample': {
      if (positionals.length !== 1) throw new UsageError('sample takes OUT.gguf');
      const bytes = writeSampleModel();
      await writeFileAtomically(positionals[0], (write) => write(bytes));
      process.stderr.write(`wrote sample model ${escapeText(positionals[0])} (${bytes.length} bytes)\n`);
      return 0;
    }
    case 'eval':
      if (positionals.length !== 1) throw new UsageError('eval takes MODEL --reference REF');
      await evalCommand(positionals[0], values.reference, evalOptions);
      return 0;
    case 'sensitivity':
      if (positionals.length !== 1) throw new UsageError('sensitivity takes MODEL --type T');
      await sensitivityCommand(positionals[0], values.type, values.by, evalOptions);
      return 0;
    case 'suggest':
      if (positionals.length !== 1) throw new UsageError('suggest takes MODEL --target-bpw X|--target-size GB');
      await suggestCommand(positionals[0], values['target-bpw'], values['target-size'], values.types, values.by, evalOptions);
      return 0;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

// Ctrl-C or a SIGTERM during a write: remove the temporary output and exit non-zero (128 + signal number).
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
] as const) {
  process.on(signal, () => {
    removeTemporaryFiles();
    process.stderr.write(`error: interrupted by ${signal}; the temporary output was removed\n`);
    process.exit(128 + number);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (
      e instanceof UsageError ||
      (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (e as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    ) {
      process.stderr.write(`error: ${cliLine(e)}\n${USAGE}\n`);
      process.exitCode = 1;
    } else if (e instanceof QuantLensError) {
      process.stderr.write(`error: ${cliLine(e)}\n`);
      process.exitCode = e.code === 'usage' ? 1 : 2;
    } else {
      process.stderr.write(`error: internal error: ${oneLine(e)}\n`);
      process.exitCode = 3;
    }
  },
);
