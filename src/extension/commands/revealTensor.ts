/** "Reveal Tensor" (from a hover's link): select a tensor in its model's open editor. */
import type { CommandContext } from './common.ts';

export async function revealTensor(ctx: CommandContext, uriString: unknown, tensor: unknown): Promise<void> {
  const doc = ctx.registry.byUri(String(uriString));
  if (doc) ctx.provider.reveal(doc, String(tensor));
}
