// AssemblyScript entry of dist/kernels.wasm (scripts/build-wasm.mjs): the block decoders and the statistics passes,
// with the shared allocator. Their TypeScript side is src/core/wasm/kernels.ts.
export * from './common/memory';
export { dequantize } from './decode';
export * from './stats';
export { countGptqActOrder, flushActOrderGroups } from './actOrderCodes';
export { addScaleHistogram, countAwqNibbles, countGptqNibbles, countHqqNibbles, countNibbleRows } from './nibbleGroups';
export { countField2Rows, countField3Rows, countGptqFields2, countGptqFields3 } from './fieldGroups';
export { countGptqValues, countGptqValuesAnyGroups, countValueRows } from './valueCodes';
export { buildPatternTable, countAwqWords, countByteRows, countCodeRows, countGptqWords, decodeCodeRows, setCodeValues, transposeWords, unpackColumnWords, unpackFieldRows, unpackHighNibbles, unpackInterleavedColumns } from './codeTables';
