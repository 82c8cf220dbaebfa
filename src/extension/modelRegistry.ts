/** The models open in Quant Lens editors, so a tensor name written anywhere can be looked up. */
import type { ModelDocument } from './modelDocument.ts';
import type { TensorInfo } from '../core/model.ts';
import { ggufToHf, hfToGguf } from '../core/compare/nameMap.ts';
import type { LogicalWeight } from '../core/hfquant/weights.ts';

/** A tensor, or (a quantized Hugging Face checkpoint) a logical weight, found by a name written somewhere. */
export type TensorHit = HitBase & ({ tensor: TensorInfo; weight?: undefined } | { weight: LogicalWeight; tensor?: undefined });

interface HitBase {
  doc: ModelDocument;
  /** Set when the name written was another naming of this tensor (Hugging Face ↔ llama.cpp, or without `.weight`). */
  writtenAs?: string;
}

export class ModelRegistry {
  private docs = new Set<ModelDocument>();

  add(doc: ModelDocument): void {
    this.docs.add(doc);
  }

  remove(doc: ModelDocument): void {
    this.docs.delete(doc);
  }

  /**
   * Every open model holding a tensor of this name, most recently opened first. A name in the other naming
   * (model.layers.0.self_attn.q_proj.weight for a GGUF's blk.0.attn_q.weight, and back) or a dotted name
   * without its `.weight` finds the tensor too.
   */
  find(name: string): TensorHit[] {
    const out: TensorHit[] = [];
    // two shards of one split model open in two editors are one model: listed once
    const seen = new Set<string>();
    // `blk.0.attn_q` stands for its weight; a bare word (`output`) stays a word
    const spellings = [name, ...(name.includes('.') && !/\.(weight|bias)$/.test(name) ? [`${name}.weight`] : [])];
    for (const doc of [...this.docs].reverse()) {
      const files = doc.model?.files
        .map((f) => f.path)
        .sort()
        .join('\n');
      if (files !== undefined) {
        if (seen.has(files)) continue;
        seen.add(files);
      }
      for (const written of spellings) {
        const alias = doc.model?.format === 'gguf' ? hfToGguf(written) : ggufToHf(written);
        // a logical weight's name comes first: its main component may have the same name (FP8, bitsandbytes, MLX)
        const weight = doc.logicalWeight(written) ?? (alias ? doc.logicalWeight(alias) : undefined);
        if (weight) {
          out.push({ doc, weight, writtenAs: weight.name === name ? undefined : name });
          break;
        }
        const tensor = doc.tensor(written) ?? (alias ? doc.tensor(alias) : undefined);
        if (tensor) {
          out.push({ doc, tensor, writtenAs: tensor.name === name ? undefined : name });
          break;
        }
      }
    }
    return out;
  }

  byUri(uri: string): ModelDocument | undefined {
    for (const d of this.docs) if (d.uri.toString() === uri) return d;
    return undefined;
  }

  get size(): number {
    return this.docs.size;
  }
}
