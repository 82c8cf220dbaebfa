/**
 * Where a quantized checkpoint says what it is, read as the real tools write it (spec §1.1), in this order:
 * config.json `quantization_config` (also `text_config.quantization_config` and the old `compression_config`),
 * quantize_config.json (AutoGPTQ, GPTQModel), quant_config.json (AutoAWQ), hf_quant_config.json (ModelOpt),
 * MLX's config.json `quantization`. Without any, the tensor names decide (groupWeights' fingerprints).
 */
import { join } from 'node:path';
import { oneLine, QuantLensError, quoteText, showText } from '../errors.ts';
import { readIfPresent, sibling, type RemoteOptions } from '../io/location.ts';
import type { Model } from '../model.ts';
import { outputDtypeOf, type OutputDtype } from './numeric.ts';
import type { Family } from './table.ts';

/** Config files larger than this are refused (they are a few KB). */
const MAX_CONFIG_BYTES = 16 << 20;

export type Json = Record<string, any>;

export interface QuantDetection {
  /** The format family the configuration names; undefined when only fingerprints can tell. */
  family?: Family;
  /** quant_method (or its equivalent) as written. */
  method?: string;
  /** Where it was found: `config.json quantization_config`, `quantize_config.json` ... */
  source?: string;
  /** The quantization configuration object, with file-specific synonyms normalized (w_bit -> bits ...). */
  qc: Json;
  /** The whole config.json, when there is one. */
  config?: Json;
  /** A quant_method this version does not know: every weight found by fingerprint is flagged with it. */
  unknownMethod?: string;
  /** A method transformers knows but Quant Lens has no decoder for (aqlm, quanto ...). */
  unsupportedMethod?: string;
  modelDtype: OutputDtype;
  /** Problems with the configuration files themselves (not fatal). */
  warnings: string[];
  /**
   * Where config.json's quantization_config and the quantizer's own file (quantize_config.json, quant_config.json)
   * disagree on bits, group size, sym, desc_act or zero_point: also in warnings, and a note of every weight.
   */
  disagreements: string[];
}

/** The settings a checkpoint's two config files must agree on (after normalize: w_bit -> bits ...). */
const AGREED_KEYS = ['bits', 'group_size', 'sym', 'desc_act', 'zero_point'] as const;

/**
 * The line saying how config.json's quantization_config and a quantizer's file disagree, if they do (only the
 * settings both name count).
 */
function disagreement(qc: Json, source: string, other: Json, otherName: string): string | undefined {
  const b = normalize(other);
  const differ = AGREED_KEYS.filter((k) => qc[k] !== undefined && b[k] !== undefined && JSON.stringify(qc[k]) !== JSON.stringify(b[k]));
  if (!differ.length) return undefined;
  const pairs = differ.map((k) => `${k} ${showText(JSON.stringify(qc[k]))} vs ${showText(JSON.stringify(b[k]))}`);
  return `${source} and ${otherName} disagree (${pairs.join(', ')}); the weights are decoded with ${source}'s, as transformers reads it`;
}

const METHOD_FAMILY: Record<string, Family> = {
  gptq: 'gptq',
  awq: 'awq',
  bitsandbytes: 'bitsandbytes',
  fp8: 'fp8',
  fbgemm_fp8: 'fp8',
  'compressed-tensors': 'compressed-tensors',
  compressed_tensors: 'compressed-tensors',
  modelopt: 'modelopt',
  mxfp4: 'mxfp4',
  mlx: 'mlx',
  hqq: 'hqq',
  exl2: 'exl2',
  exl3: 'exl3',
};

/** quant_method values of transformers without a decoder here (TF5 utils/quantization_config.py:43-69). */
const KNOWN_UNSUPPORTED = new Set([
  'aqlm',
  'vptq',
  'quanto',
  'eetq',
  'higgs',
  'torchao',
  'gguf',
  'bitnet',
  'spqr',
  'quark',
  'fp_quant',
  'auto-round',
  'nvfp4',
  'mxfp8',
  'metal',
  'fouroversix',
  'sinq',
  'gemma',
]);

/** The names of the files a checkpoint's folder may describe itself in. */
export const CONFIG_NAMES = ['config.json', 'quantize_config.json', 'quant_config.json', 'hf_quant_config.json'] as const;
export type ConfigName = (typeof CONFIG_NAMES)[number];

/** The config files found beside a checkpoint (local or remote), as read: where each is, and its bytes. */
export type ConfigFiles = Partial<Record<ConfigName, { location: string; bytes: Uint8Array }>>;

/**
 * Reads the config files beside `entry` (a checkpoint's file or its folder, a path or a URL): each one that
 * exists, up to MAX_CONFIG_BYTES; a larger one is noted in `warnings` and skipped.
 */
export async function readConfigFiles(
  entry: string,
  inFolder: boolean,
  remote: RemoteOptions = {},
  warnings: string[] = [],
): Promise<ConfigFiles> {
  const files: ConfigFiles = {};
  for (const name of CONFIG_NAMES) {
    const location = inFolder ? join(entry, name) : sibling(entry, name);
    try {
      const bytes = await readIfPresent(location, remote, MAX_CONFIG_BYTES);
      if (bytes) files[name] = { location, bytes };
    } catch (e) {
      warnings.push(`${location}: ${oneLine(e)}; ignored`);
    }
  }
  return files;
}

function parseConfig(files: ConfigFiles, name: ConfigName, warnings: string[]): Json | undefined {
  const file = files[name];
  if (!file) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(file.bytes));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Json;
    warnings.push(`${file.location} is not a JSON object; ignored`);
  } catch (e) {
    warnings.push(`${file.location} is not valid JSON (${(e as Error).message}); ignored`);
  }
  return undefined;
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** AutoAWQ quant_config.json and GPTQModel synonyms -> the config.json spelling (GPTQM config.py:1507-1529). */
function normalize(qc: Json): Json {
  const out: Json = { ...qc };
  if (out.bits === undefined && out.w_bit !== undefined) out.bits = out.w_bit;
  if (out.group_size === undefined && out.q_group_size !== undefined) out.group_size = out.q_group_size;
  return out;
}

/** The detection for a model from the config files beside it (readConfigFiles). */
export function detectQuantization(files: ConfigFiles, model?: Model, readWarnings: string[] = []): QuantDetection {
  const warnings: string[] = [...readWarnings];
  const config = parseConfig(files, 'config.json', warnings);
  const modelDtype = outputDtypeOf(config?.torch_dtype ?? config?.dtype ?? config?.text_config?.torch_dtype, 'bfloat16');
  const disagreements: string[] = [];
  const base = { config, modelDtype, warnings, disagreements };
  const found = (qc: Json, source: string, method: string | undefined): QuantDetection => {
    const m = typeof method === 'string' ? method.toLowerCase() : undefined;
    const family = m ? METHOD_FAMILY[m] : undefined;
    const d: QuantDetection = { ...base, qc: normalize(qc), source, method, family };
    if (source.startsWith('config.json') && (family === 'gptq' || family === 'awq'))
      for (const name of ['quantize_config.json', 'quant_config.json'] as const) {
        const other = parseConfig(files, name, warnings);
        const line = other && disagreement(d.qc, source, other, name);
        if (line) disagreements.push(line);
      }
    warnings.push(...disagreements);
    if (m && !family) {
      if (KNOWN_UNSUPPORTED.has(m)) d.unsupportedMethod = method;
      else d.unknownMethod = method;
    }
    return d;
  };
  // MLX writes `quantization` (and a copy as quantization_config without quant_method).
  if (
    config &&
    isObj(config.quantization) &&
    !(isObj(config.quantization_config) && typeof config.quantization_config.quant_method === 'string')
  ) {
    return found(config.quantization, 'config.json quantization', 'mlx');
  }
  const candidates: [Json | undefined, string][] = [
    [config?.quantization_config, 'config.json quantization_config'],
    [config?.text_config?.quantization_config, 'config.json text_config.quantization_config'],
    [config?.compression_config, 'config.json compression_config'],
  ];
  for (const [qc, source] of candidates) {
    if (!isObj(qc)) continue;
    if (typeof qc.quant_method === 'string') return found(qc, source, qc.quant_method);
    if (source.endsWith('compression_config')) return found(qc, source, 'compressed-tensors');
    if (qc.bits !== undefined && qc.group_size !== undefined && qc.mode !== undefined) return found(qc, source, 'mlx');
    return found(qc, source, undefined);
  }
  const gptq = parseConfig(files, 'quantize_config.json', warnings);
  if (gptq) return found(gptq, 'quantize_config.json', typeof gptq.quant_method === 'string' ? gptq.quant_method : 'gptq');
  const awq = parseConfig(files, 'quant_config.json', warnings);
  if (awq)
    return found(
      awq,
      'quant_config.json',
      typeof awq.quant_method === 'string' ? awq.quant_method : awq.w_bit !== undefined ? 'awq' : 'gptq',
    );
  const mo = parseConfig(files, 'hf_quant_config.json', warnings);
  if (mo && isObj(mo.quantization)) return found({ ...mo.quantization, producer: mo.producer }, 'hf_quant_config.json', 'modelopt');
  if (model?.metadata.some((m) => m.key === 'format' && m.value === 'mlx'))
    warnings.push(
      'safetensors __metadata__ says format "mlx" but config.json has no `quantization`: bits and group size come from the shapes',
    );
  return { ...base, qc: {}, warnings };
}

/** One line naming what was detected, for the summary. */
export function describeDetection(d: QuantDetection): string {
  if (d.unknownMethod) return `unknown quant_method ${showText(d.unknownMethod)} (${d.source})`;
  if (d.unsupportedMethod) return `${showText(d.unsupportedMethod)} (${d.source}): no decoder in this version`;
  if (!d.family)
    return d.source
      ? `quantization config without quant_method (${d.source}); format from tensor names`
      : 'no quantization config; format from tensor names';
  return `${d.method} (${d.source})`;
}

/** The error every weight gets when the config names a method this version does not know. */
export function unknownMethodError(weight: string, d: QuantDetection, looksLike: string): QuantLensError {
  return new QuantLensError(
    'unknown-type',
    `${weight}: ${d.source} names quant_method ${quoteText(d.unknownMethod ?? '')}, which Quant Lens does not know; its tensors look like ${looksLike} but are not decoded`,
  );
}
