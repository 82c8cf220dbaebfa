/** The models open in Quant Lens editors, so a tensor name written anywhere can be looked up. */
import type { ModelDocument } from './modelDocument.ts';
import type { TensorInfo } from '../core/model.ts';

export class ModelRegistry {
  private docs = new Set<ModelDocument>();

  add(doc: ModelDocument): void {
    this.docs.add(doc);
  }

  remove(doc: ModelDocument): void {
    this.docs.delete(doc);
  }

  /** Every open model holding a tensor of this name, most recently opened first. */
  find(name: string): { doc: ModelDocument; tensor: TensorInfo }[] {
    const out: { doc: ModelDocument; tensor: TensorInfo }[] = [];
    for (const doc of [...this.docs].reverse()) {
      const tensor = doc.tensor(name);
      if (tensor) out.push({ doc, tensor });
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
