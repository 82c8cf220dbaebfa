/** `quantlens dequant FILE TENSOR -o OUT.f32`: a tensor's values (a logical weight's: [out, in]) as raw float32. */
import { QuantLensError, escapeText, showText } from '../core/errors.ts';
import { forEachChunk } from '../core/analysis/tensorValues.ts';
import { writeFileAtomically } from '../core/io/atomicWrite.ts';
import { openModelAndWeights } from '../core/hfquant/open.ts';

export async function dequantCommand(file: string, tensorName: string, outPath: string): Promise<void> {
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
