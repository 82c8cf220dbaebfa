/**
 * quantlens — the command-line face of the Quant Lens core.
 * Exit status: 0 success, 1 usage error, 2 invalid or unreadable input (one line `error: ...` on stderr).
 */
import { parseArgs } from 'node:util';
import { QuantLensError, oneLine, cliLine, escapeText } from '../core/errors.ts';
import { removeTemporaryFiles, writeFileAtomically } from '../core/io/atomicWrite.ts';
import { parseThreads } from './workers.ts';
import { UsageError } from './usageError.ts';

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

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
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
  // Each command's module is imported when it runs: `info` of a GGUF loads the header reader, not the scans,
  // quantizers and Hugging Face formats the other commands need.
  switch (command) {
    case 'info': {
      if (positionals.length !== 1) throw new UsageError('info takes one FILE');
      const { infoCommand } = await import('./infoCommand.ts');
      await infoCommand(positionals[0], values.json!);
      return 0;
    }
    case 'stats': {
      if (positionals.length !== 1) throw new UsageError('stats takes one FILE');
      const threads = parseThreads(values.threads);
      const bins = values.bins === undefined ? undefined : Number(values.bins);
      if (bins !== undefined && (!Number.isInteger(bins) || bins < 1 || bins > 1 << 20))
        throw new UsageError('--bins must be an integer from 1 to 1048576');
      // the workers start while this thread loads the command and opens the model
      const { earlyStatsWorkers } = await import('./statsWorkers.ts');
      const started = earlyStatsWorkers(positionals[0], threads);
      const { statsCommand } = await import('./statsCommand.ts');
      await statsCommand(positionals[0], values.tensor, bins, values.json!, threads, started);
      return 0;
    }
    case 'dequant': {
      if (positionals.length !== 2 || !values.output) throw new UsageError('dequant takes FILE TENSOR -o OUT.f32');
      const { dequantCommand } = await import('./dequantCommand.ts');
      await dequantCommand(positionals[0], positionals[1], values.output);
      return 0;
    }
    case 'quantize': {
      if (positionals.length !== 1 || !values.output || !values.type || !values['row-length'])
        throw new UsageError('quantize takes --type TYPE --row-length N IN.f32 -o OUT.bin');
      const { quantizeCommand } = await import('./quantCommands.ts');
      await quantizeCommand(positionals[0], values.type, Number(values['row-length']), values.output, values.imatrix);
      return 0;
    }
    case 'requantize': {
      if (positionals.length !== 2) throw new UsageError('requantize takes IN.gguf OUT.gguf --tensor-type REGEX=TYPE [...]');
      const { requantizeCommand } = await import('./quantCommands.ts');
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
    }
    case 'simulate': {
      if (positionals.length !== 2)
        throw new UsageError('simulate takes IN.safetensors OUT.safetensors --tensor-type REGEX=TYPE_OR_SCHEME [...]');
      const { simulateCommand } = await import('./quantCommands.ts');
      await simulateCommand(positionals[0], positionals[1], values['tensor-type'] ?? [], values.json!, parseThreads(values.threads));
      return 0;
    }
    case 'error': {
      if (positionals.length !== 1) throw new UsageError('error takes one FILE');
      const { errorCommand } = await import('./quantCommands.ts');
      await errorCommand(positionals[0], values.tensor, values.candidates, values.json!, values.imatrix);
      return 0;
    }
    case 'compare': {
      if (positionals.length !== 2) throw new UsageError('compare takes FILE REF');
      const { compareCommand } = await import('./reportCommands.ts');
      await compareCommand(positionals[0], positionals[1], values.tensor, values.json!);
      return 0;
    }
    case 'report': {
      if (positionals.length !== 1) throw new UsageError('report takes one FILE');
      const { reportCommand } = await import('./reportCommands.ts');
      await reportCommand(positionals[0], values.compare, values.format ?? 'md');
      return 0;
    }
    case 'dump': {
      if (positionals.length !== 1) throw new UsageError('dump takes one FILE');
      const { dumpCommand } = await import('./reportCommands.ts');
      await dumpCommand(positionals[0], values.stats!);
      return 0;
    }
    case 'sample': {
      if (positionals.length !== 1) throw new UsageError('sample takes OUT.gguf');
      const { writeSampleModel } = await import('../core/sample/sampleModel.ts');
      const bytes = writeSampleModel();
      await writeFileAtomically(positionals[0], (write) => write(bytes));
      process.stderr.write(`wrote sample model ${escapeText(positionals[0])} (${bytes.length} bytes)\n`);
      return 0;
    }
    case 'eval': {
      if (positionals.length !== 1) throw new UsageError('eval takes MODEL --reference REF');
      const { evalCommand } = await import('./evalCommands.ts');
      await evalCommand(positionals[0], values.reference, evalOptions);
      return 0;
    }
    case 'sensitivity': {
      if (positionals.length !== 1) throw new UsageError('sensitivity takes MODEL --type T');
      const { sensitivityCommand } = await import('./evalCommands.ts');
      await sensitivityCommand(positionals[0], values.type, values.by, evalOptions);
      return 0;
    }
    case 'suggest': {
      if (positionals.length !== 1) throw new UsageError('suggest takes MODEL --target-bpw X|--target-size GB');
      const { suggestCommand } = await import('./evalCommands.ts');
      await suggestCommand(positionals[0], values['target-bpw'], values['target-size'], values.types, values.by, evalOptions);
      return 0;
    }
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
