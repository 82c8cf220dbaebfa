/** `node --import tsx test/helpers/writeTinyLlamaMain.ts OUT.gguf`: writes the default tiny llama (F32), for the E2E tests. */
import { writeFileSync } from 'node:fs';
import { makeTinyLlama, writeTinyLlama } from './tinyLlama.ts';

writeFileSync(process.argv[2], writeTinyLlama(makeTinyLlama()));
