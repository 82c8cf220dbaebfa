/**
 * How far a reconstruction is from its reference, streamed in float64: RMSE, relative RMSE, SNR, max abs error,
 * mean error, cosine similarity. Definitions follow the corpus's `error_vs_source`:
 * rel_rmse = rmse / rms(reference), snr_db = 20·log10(rms(reference) / rmse) (null when rmse = 0).
 */
import type { Values } from './tensorValues.ts';

export interface ErrorMetrics {
  count: number;
  rmse: number;
  rel_rmse: number;
  /** rmse / std(reference): the error in units of the weights' spread. */
  rmse_over_std: number;
  snr_db: number | null;
  max_abs: number;
  mean_err: number;
  cosine: number;
  /**
   * With an importance matrix (mean squared activation per input column): sqrt(Σ w·e² / Σ w·r²), the error as
   * the layer's outputs feel it rather than as the weights show it.
   */
  weighted_rel_rmse?: number;
}

export class ErrorAccumulator {
  count = 0;
  private sumSqErr = 0;
  private sumErr = 0;
  private maxAbs = 0;
  private sumRef = 0;
  private sumRefSq = 0;
  private sumRecSq = 0;
  private sumDot = 0;
  /** Pairs where either side is not finite are counted here and left out of every sum. */
  nonFinite = 0;
  private wSqErr = 0;
  private wRefSq = 0;
  private weighted = false;

  /** Column-weighted sums (weights[j] for column j of rows of weights.length); call alongside add. */
  addWeighted(reconstruction: Values, reference: Values, weights: Float32Array): void {
    const cols = weights.length;
    let se = 0;
    let sr = 0;
    for (let i = 0, j = 0; i < reconstruction.length; i++, j = j + 1 === cols ? 0 : j + 1) {
      const e = reconstruction[i] - reference[i];
      if (e - e !== 0) continue;
      se += weights[j] * e * e;
      sr += weights[j] * reference[i] * reference[i];
    }
    this.wSqErr += se;
    this.wRefSq += sr;
    this.weighted = true;
  }

  add(reconstruction: Values, reference: Values): void {
    const n = Math.min(reconstruction.length, reference.length);
    let sumSqErr = 0,
      sumErr = 0,
      maxAbs = this.maxAbs,
      sumRef = 0,
      sumRefSq = 0,
      sumRecSq = 0,
      sumDot = 0,
      bad = 0;
    for (let i = 0; i < n; i++) {
      const x = reconstruction[i];
      const r = reference[i];
      const e = x - r;
      if (e - e !== 0) {
        bad++;
        continue;
      }
      sumSqErr += e * e;
      sumErr += e;
      const a = e < 0 ? -e : e;
      if (a > maxAbs) maxAbs = a;
      sumRef += r;
      sumRefSq += r * r;
      sumRecSq += x * x;
      sumDot += x * r;
    }
    this.count += n - bad;
    this.nonFinite += bad;
    this.sumSqErr += sumSqErr;
    this.sumErr += sumErr;
    this.maxAbs = maxAbs;
    this.sumRef += sumRef;
    this.sumRefSq += sumRefSq;
    this.sumRecSq += sumRecSq;
    this.sumDot += sumDot;
  }

  result(): ErrorMetrics {
    const n = this.count || NaN;
    const rmse = Math.sqrt(this.sumSqErr / n);
    const rmsRef = Math.sqrt(this.sumRefSq / n);
    const meanRef = this.sumRef / n;
    const stdRef = Math.sqrt(Math.max(0, this.sumRefSq / n - meanRef * meanRef));
    const norm = Math.sqrt(this.sumRecSq) * Math.sqrt(this.sumRefSq);
    return {
      count: this.count,
      rmse,
      rel_rmse: rmse / rmsRef,
      rmse_over_std: rmse / stdRef,
      snr_db: rmse === 0 ? null : 20 * Math.log10(rmsRef / rmse),
      max_abs: this.maxAbs,
      mean_err: this.sumErr / n,
      cosine: norm === 0 ? (this.sumSqErr === 0 ? 1 : 0) : this.sumDot / norm,
      ...(this.weighted ? { weighted_rel_rmse: Math.sqrt(this.wSqErr / this.wRefSq) } : {}),
    };
  }
}

export function errorMetrics(reconstruction: Values, reference: Values): ErrorMetrics {
  const acc = new ErrorAccumulator();
  acc.add(reconstruction, reference);
  return acc.result();
}
