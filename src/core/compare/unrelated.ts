/** Whether a comparison's reference is a version of the same model at all. */

/**
 * A warning when the reference looks like another model: a quantized copy keeps each tensor's direction (cosine
 * near 1), an unrelated model's tensors are about orthogonal (cosine near 0). Undefined when the median cosine of
 * the compared tensors is at least 0.5.
 */
export function unrelatedReference(tensors: readonly { cosine: number }[]): string | undefined {
  const cosines = tensors
    .map((t) => t.cosine)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  if (!cosines.length) return undefined;
  const median = cosines[Math.floor(cosines.length / 2)];
  if (median >= 0.5) return undefined;
  return `looks like another model: the median cosine of the ${cosines.length} compared tensors is ${median.toFixed(3)} (a quantized copy of the same weights is close to 1), so the errors say little.`;
}
