/**
 * The format-independent view of an opened model that every consumer (CLI, worker, extension, tests) uses.
 * Readers (formats/gguf.ts, formats/safetensors.ts) produce it; nothing here reads bytes eagerly.
 */
import type { ByteSource } from './io/byteSource.ts';
import type { TensorType } from './types.ts';

export type ModelFormat = 'gguf' | 'safetensors';

/** GGUF metadata value types, ids as in the GGUF spec. */
export const GGUF_VALUE_TYPES = [
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'UINT32',
  'INT32',
  'FLOAT32',
  'BOOL',
  'STRING',
  'ARRAY',
  'UINT64',
  'INT64',
  'FLOAT64',
] as const;
export type GgufValueTypeName = (typeof GGUF_VALUE_TYPES)[number];

/** A scalar metadata value: numbers, bigint for 64-bit integers, booleans and strings. */
export type ScalarValue = number | bigint | boolean | string;

/**
 * A metadata array. Short arrays are decoded up front (`values`); long ones are left in the file and read a
 * page at a time with `readArrayPage`.
 */
export interface ArrayValue {
  kind: 'array';
  elementType: GgufValueTypeName;
  length: number;
  /** All elements, when the array is short enough to decode eagerly (GGUF has no arrays of arrays: ggml refuses them). */
  values?: (ScalarValue | ArrayValue)[];
  /** Absolute file offset of the payload (after the element type and count) and its size in bytes. */
  payloadOffset: number;
  payloadBytes: number;
  /** Which file of a split model the array lives in. */
  fileIndex: number;
}

export interface MetadataEntry {
  key: string;
  type: GgufValueTypeName; // safetensors __metadata__ entries are STRING
  value: ScalarValue | ArrayValue;
  /** Which file of a split model the key came from. */
  fileIndex: number;
}

export interface TensorInfo {
  name: string;
  /** GGUF: ggml order, ne[0] = row length (contiguous). safetensors: row-major as stored, outermost first. */
  shape: number[];
  type: TensorType;
  /** ggml type id as stored (GGUF only); for unknown types `type.name` is "unknown type N". */
  ggmlTypeId?: number;
  /** safetensors dtype as stored. */
  dtype?: string;
  /** Index into Model.files of the file holding the data. */
  fileIndex: number;
  /** Offset as stored: relative to the data section (GGUF) or to the byte after the header (safetensors). */
  offset: number;
  /** Absolute byte offset in its file. */
  absoluteOffset: number;
  nbytes: number;
  nElements: number;
}

export interface ModelFile {
  path: string;
  source: ByteSource;
  size: number;
}

export interface Model {
  format: ModelFormat;
  /** The files that make up the model (several for split GGUF / sharded safetensors), in shard order. */
  files: ModelFile[];
  ggufVersion?: number;
  alignment?: number;
  /** Absolute offset of the data section in files[0] (GGUF) / of the data after the JSON header (safetensors). */
  dataOffset: number;
  /** Absolute offset where the tensor infos end (GGUF) / header length (safetensors). */
  headerEnd: number;
  metadata: MetadataEntry[];
  tensors: TensorInfo[];
  /** A file cut short, opened as far as it goes (openCutModel): `tensors` are those whose data is there. */
  truncation?: Truncation;
  /** A file cut short: the tensors its header lists whose data is not (wholly) in the file. */
  cutTensors?: TensorInfo[];
  close(): Promise<void>;
}

/** How much of a file cut short is there (formats/openModel.ts openCutModel). */
export interface Truncation {
  /** The shard cut short, when the model has several files (names joined when several are cut). */
  file?: string;
  /** Its size (the cut shards' sizes summed). */
  fileBytes: number;
  /** Exact, or a lower bound when the file ends inside its tensor infos (`atLeast`). */
  neededBytes: number;
  atLeast: boolean;
  /** Where the file ends, in the reader's words (one line). */
  reason: string;
  /** Tensors the header lists whose data is not in the file. */
  missing: { name: string; type: string; shape: number[]; nbytes: number }[];
  /** Tensor infos the file ends before: their names are not known. */
  unreadInfos: number;
}
