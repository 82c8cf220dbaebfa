/**
 * compressed-tensors per-module scheme lookup (spec §6.1): `config_groups[*].targets` and `ignore`, with `re:`
 * regexes matched against the module name; a bare target matches the module name or its last component, and the
 * layer class names ("Linear") match every module (there is no class information in a checkpoint).
 */
import type { Json } from './detect.ts';
import type { BuildContext } from './table.ts';

function matches(target: unknown, module: string): boolean {
  if (typeof target !== 'string') return false;
  if (target.startsWith('re:')) {
    try {
      return new RegExp(target.slice(3)).test(module);
    } catch {
      return false;
    }
  }
  if (/^[A-Z]/.test(target)) return true; // a class name such as Linear
  return module === target || module.endsWith('.' + target);
}

/** The config group (weights args and format) that applies to a module, or undefined when it is ignored or unmatched. */
export function ctGroupFor(qc: Json, module: string): { weights?: Json; format?: string } | undefined {
  const ignore = Array.isArray(qc.ignore) ? qc.ignore : [];
  if (ignore.some((t: unknown) => typeof t === 'string' && !/^[A-Z]/.test(t) && matches(t, module))) return undefined;
  const groups = qc.config_groups && typeof qc.config_groups === 'object' ? Object.values(qc.config_groups as Json) : [];
  for (const g of groups as Json[]) {
    if (!g || typeof g !== 'object') continue;
    const targets = Array.isArray(g.targets) ? g.targets : [];
    if (targets.some((t: unknown) => matches(t, module)))
      return {
        weights: g.weights,
        format: typeof g.format === 'string' ? g.format : typeof qc.format === 'string' ? qc.format : undefined,
      };
  }
  return undefined;
}

export function ctWeightArgs(ctx: BuildContext): Json | undefined {
  if (ctx.detection.family !== 'compressed-tensors') return undefined;
  return ctGroupFor(ctx.detection.qc, ctx.module)?.weights;
}
