/** The checks every format row makes: a typed error naming the weight and the reason, shapes compared. */
import { QuantLensError } from '../errors.ts';
import type { TensorInfo } from '../model.ts';
import { integerValues } from './components.ts';
import type { BuildContext } from './table.ts';

export function bad(ctx: BuildContext, reason: string, t?: TensorInfo): QuantLensError {
  return new QuantLensError(
    'bad-tensor',
    `${ctx.name}: ${reason}`,
    t?.absoluteOffset,
    t ? ctx.reader.model.files[t.fileIndex].path : undefined,
  );
}

export function need(ctx: BuildContext, role: string): TensorInfo {
  const t = ctx.c[role];
  if (!t) throw bad(ctx, `missing component ${role} (expected ${ctx.module}.${role})`);
  return t;
}

export const shapeText = (s: number[]) => `[${s.join(', ')}]`;

export function expectShape(ctx: BuildContext, t: TensorInfo, want: number[], why: string): void {
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
    throw bad(ctx, `${t.name} has shape ${shapeText(t.shape)}, expected ${shapeText(want)} (${why})`, t);
}

export const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
export const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
export const VALID_BITS = new Set([2, 3, 4, 8]);

/** g_idx as groups, refusing entries outside [0, groups). */
export function readGidx(ctx: BuildContext, t: TensorInfo, cols: number, groups: number): Int32Array {
  expectShape(ctx, t, [cols], 'one group index per input column');
  const v = integerValues(t, ctx.reader.whole(t));
  const out = new Int32Array(cols);
  for (let k = 0; k < cols; k++) {
    if (!(v[k] >= 0 && v[k] < groups)) throw bad(ctx, `${t.name}[${k}] = ${v[k]} is out of range: there are ${groups} groups`, t);
    out[k] = v[k];
  }
  return out;
}

export const int = (b: number) => `int${b}`;
