/**
 * `node --import tsx test/helpers/writeDamagedLlamaMain.ts OUT.gguf`: the default tiny llama (F32) with one tensor
 * kind deliberately made sensitive to quantization, for the E2E tests of the sensitivity map. Input column 5 of
 * blk.1's FFN is switched off by its norm weight, so huge weights in that column of blk.1.ffn_gate change nothing
 * in the model, but any block quantization of those rows loses their other weights: ffn_gate is the most sensitive kind.
 */
import { writeFileSync } from 'node:fs';
import { makeTinyLlama, writeTinyLlama } from './tinyLlama.ts';

const m = makeTinyLlama();
const E = m.shape.embedding;
m.tensors.find((t) => t.name === 'blk.1.ffn_norm.weight')!.values[5] = 0;
const gate = m.tensors.find((t) => t.name === 'blk.1.ffn_gate.weight')!.values;
for (let r = 0; r < m.shape.ffn; r++) gate[r * E + 5] = 1000;
writeFileSync(process.argv[2], writeTinyLlama(m));
