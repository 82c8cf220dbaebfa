/** CLI commands that quantize: quantize (raw blocks), requantize (a new GGUF), error (what-if table). */
import { FileByteSource, readFully, readWholeFile } from '../core/io/byteSource.ts';
import { openModel } from '../core/formats/openModel.ts';
import { QuantLensError, escapeText, showText } from '../core/errors.ts';
import { typeByName } from '../core/types.ts';
import { requireQuantizer } from '../core/quant/quantizers.ts';
import { moduleInput, releaseModuleInput } from '../core/quant/wasmQuantizers.ts';
import { writeFileAtomically } from '../core/io/atomicWrite.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../core/requant/requantize.ts';
import { WorkerPool } from '../node/workerPool.ts';
import { workerScript } from './workers.ts';
import { computeWhatIf, parseCandidate, DEFAULT_CANDIDATES, type Candidate } from '../core/analysis/whatIf.ts';
import { formatBytes } from '../core/analysis/summary.ts';
import { readImatrix, imatrixFor, checkImportance } from '../core/requant/imatrix.ts';
import { parseSimulationRule, planSimulation, writeSimulated } from '../core/requant/simulate.ts';

async function readF32File(path: string, what: string): Promise<Float32Array> {
  const b = await readWholeFile(path);
  if (b.length % 4)
    throw new QuantLensError('invalid-value', `${what} ${escapeText(path)} is ${b.length} bytes, not a whole number of float32 values`);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

export async function quantizeCommand(
  input: string,
  typeName: string,
  rowLength: number,
  output: string,
  imatrixPath?: string,
): Promise<void> {
  const type = typeByName(typeName);
  if (!type || type.ggmlId === undefined) throw new QuantLensError('usage', `unknown ggml type ${typeName}`);
  const source = await FileByteSource.open(input);
  try {
    if (source.size % 4)
      throw new QuantLensError('invalid-value', `input ${escapeText(input)} is ${source.size} bytes, not a whole number of float32 values`);
    const count = source.size / 4;
    if (!Number.isInteger(rowLength) || rowLength <= 0 || count % rowLength) {
      throw new QuantLensError('usage', `--row-length ${rowLength} does not divide the ${count} input values`);
    }
    if (rowLength % type.blockSize)
      throw new QuantLensError('usage', `--row-length ${rowLength} is not a multiple of the ${type.name} block size ${type.blockSize}`);
    const imatrix = imatrixPath ? await readF32File(imatrixPath, 'imatrix') : undefined;
    if (imatrix && imatrix.length !== rowLength)
      throw new QuantLensError('usage', `imatrix has ${imatrix.length} values; expected one per column (${rowLength})`);
    if (imatrix) checkImportance(imatrixPath!, imatrix);
    const quantizer = requireQuantizer(type);
    if (quantizer.requiresImatrix && !imatrix) throw new QuantLensError('usage', `${type.name} needs an importance matrix (--imatrix)`);
    // the weights are read straight into the quantizer module's memory: quantizing them copies nothing in
    const src = moduleInput(type, count / rowLength, rowLength, !!imatrix) ?? new Float32Array(count);
    try {
      readFully(source, 0, new Uint8Array(src.buffer, src.byteOffset, src.byteLength), 'the input');
      // and each chunk's blocks are written to the file from where the quantizer made them: nothing is copied out
      let wrote = 0;
      const quantizeTo = (write: (bytes: Uint8Array) => void) =>
        quantizer.quantizeTo(src, count / rowLength, rowLength, (bytes) => (write(bytes), (wrote += bytes.length)), imatrix);
      await writeFileAtomically(output, quantizeTo, { protect: imatrixPath ? [input, imatrixPath] : [input] });
      process.stderr.write(
        `wrote ${wrote} bytes of ${type.name} blocks (${count / rowLength} rows of ${rowLength}) to ${escapeText(output)}\n`,
      );
    } finally {
      releaseModuleInput();
    }
  } finally {
    await source.close();
  }
}

export async function requantizeCommand(
  input: string,
  output: string,
  rules: string[],
  imatrixPath: string | undefined,
  json: boolean,
  threads = 1,
  keepSplit = false,
): Promise<void> {
  if (!rules.length) throw new QuantLensError('usage', 'requantize needs at least one --tensor-type REGEX=TYPE');
  const parsed = rules.map(parseTensorTypeRule);
  const model = await openModel(input);
  try {
    const plan = planRequantize(model, parsed);
    for (const s of plan.skipped) process.stderr.write(`skipped ${showText(s.tensor)}: ${s.reason}\n`);
    for (const r of plan.unmatched) process.stderr.write(`warning: --tensor-type ${showText(r)} matches no tensor\n`);
    if (!plan.changes.length) process.stderr.write('no tensor changes type; writing a copy\n');
    const imatrix = imatrixPath ? await readImatrix(imatrixPath) : undefined;
    const tty = process.stderr.isTTY;
    const script = workerScript();
    const pool = script && threads > 1 && plan.changes.length ? new WorkerPool(script, threads) : undefined;
    const result = await writeRequantized(model, plan, output, {
      imatrix,
      otherInputs: [input, ...(imatrixPath ? [imatrixPath] : [])],
      quantize: pool?.chunkQuantizer(),
      inFlight: pool ? threads + 1 : 1,
      keepSplit,
      onProgress: (done, total, name) => {
        if (tty) process.stderr.write(`\r${Math.floor((100 * done) / total)}% ${showText(name)}\x1b[K`);
      },
    }).finally(() => pool?.dispose());
    if (tty) process.stderr.write('\r\x1b[K');
    if (json) {
      process.stdout.write(
        JSON.stringify({ output: result.path, files: result.paths, bytes: result.bytes, changes: result.errors }, null, 1) + '\n',
      );
    } else {
      for (const e of result.errors) {
        process.stdout.write(
          `${showText(e.tensor).padEnd(36)} ${e.from.padEnd(8)} -> ${e.to.padEnd(8)} rel RMSE ${e.metrics.rel_rmse.toPrecision(4)}  SNR ${e.metrics.snr_db?.toFixed(2) ?? 'inf'} dB\n`,
        );
      }
      process.stdout.write(
        `wrote ${result.paths.map(escapeText).join(', ')}: ${formatBytes(plan.oldBytes)} -> ${formatBytes(plan.newBytes)} of tensor data, ${plan.changes.length} tensors changed\n`,
      );
    }
  } finally {
    await model.close();
  }
}

export async function errorCommand(
  file: string,
  pattern: string | undefined,
  candidateList: string | undefined,
  json: boolean,
  imatrixPath?: string,
): Promise<void> {
  const candidates: Candidate[] = (candidateList?.split(',') ?? DEFAULT_CANDIDATES).filter(Boolean).map(parseCandidate);
  let re: RegExp | undefined;
  try {
    re = pattern === undefined ? undefined : new RegExp(pattern);
  } catch (e) {
    throw new QuantLensError('usage', `--tensor: invalid regular expression: ${(e as Error).message}`);
  }
  const model = await openModel(file);
  try {
    const tensors = model.tensors.filter((t) => (!re || re.test(t.name)) && t.shape.length >= 2);
    const results = [];
    for (const [i, t] of tensors.entries()) {
      process.stderr.write(`[${i + 1}/${tensors.length}] ${showText(t.name)}\n`);
      try {
        const rows = computeWhatIf(model, t, candidates, {
          imatrix: imatrixPath ? await imatrixFor(imatrixPath, t) : undefined,
        });
        results.push({ name: t.name, type_name: t.type.ggmlName ?? t.type.name, candidates: rows });
        if (!json) {
          process.stdout.write(`${showText(t.name)} (${t.type.name}, [${t.shape.join(', ')}])\n`);
          for (const r of rows) {
            process.stdout.write(
              `  ${r.current ? '*' : ' '} ${r.label.padEnd(26)} ${r.bitsPerWeight.toFixed(3).padStart(7)} bpw  rel RMSE ${r.metrics.rel_rmse.toPrecision(4).padStart(10)}${r.metrics.weighted_rel_rmse !== undefined ? `  weighted ${r.metrics.weighted_rel_rmse.toPrecision(4).padStart(10)}` : ''}  SNR ${(r.metrics.snr_db?.toFixed(2) ?? 'inf').padStart(7)} dB  cos ${r.metrics.cosine.toFixed(6)}\n`,
            );
          }
        }
      } catch (e) {
        if (!(e instanceof QuantLensError)) throw e;
        process.stderr.write(`warning: ${showText(t.name)}: ${e.message}\n`);
        results.push({ name: t.name, type_name: t.type.ggmlName ?? t.type.name, error: e.message });
      }
    }
    if (json) process.stdout.write(JSON.stringify({ file, tensors: results }, null, 1) + '\n');
  } finally {
    await model.close();
  }
}

export async function simulateCommand(input: string, output: string, rules: string[], json: boolean, threads = 1): Promise<void> {
  if (!rules.length) throw new QuantLensError('usage', 'simulate needs at least one --tensor-type REGEX=TYPE_OR_SCHEME');
  const parsed = rules.map(parseSimulationRule);
  const model = await openModel(input);
  try {
    const plan = planSimulation(model, parsed);
    for (const s of plan.skipped) process.stderr.write(`skipped ${showText(s.tensor)}: ${s.reason}\n`);
    const script = workerScript();
    const pool =
      script && threads > 1 && plan.changes.some((c) => c.candidate.kind === 'ggml') ? new WorkerPool(script, threads) : undefined;
    const result = await writeSimulated(model, plan, output, {
      otherInputs: [input],
      quantize: pool?.chunkQuantizer(),
      inFlight: pool ? threads + 1 : 1,
    }).finally(() => pool?.dispose());
    if (json) process.stdout.write(JSON.stringify({ output: result.path, changes: result.errors }, null, 1) + '\n');
    else {
      for (const e of result.errors)
        process.stdout.write(
          `${showText(e.tensor).padEnd(48)} ${e.candidate.padEnd(16)} rel RMSE ${e.metrics.rel_rmse.toPrecision(4)}  SNR ${e.metrics.snr_db?.toFixed(2) ?? 'inf'} dB\n`,
        );
      process.stdout.write(
        `wrote ${escapeText(output)}: ${result.errors.length} tensors replaced by their simulated quantization, in their original dtype\n`,
      );
    }
  } finally {
    await model.close();
  }
}
