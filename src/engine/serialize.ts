/**
 * The parameter file format (docs/FORMAT.md): the shared container (./container.ts) with a JSON header
 * describing every tensor, one data block per tensor. A tensor is stored in one of three layouts — dense,
 * sparse (a bitmap of the non-zeros and their values) or low-rank (two factors) — with its values as f32,
 * f16 or i8 (row-group scales). Decoding always returns dense host Float32Arrays, so a compressed file
 * loads into a model unchanged and reading never touches the WebAssembly runtime; `loadInto` copies them
 * into a model's tensors.
 *
 * Like WebAssembly memory, the data blocks are little-endian; the byte copies below assume a
 * little-endian host, as every typed-array view of the engine's memory already does.
 */
import { readFileSync } from "node:fs";
import {
  decodeContainer,
  encodeContainer,
  HeaderProblem,
  isCount,
  isPlainObject,
  writeFileAtomic,
} from "./container.js";
import { fromFloat16, toFloat16 } from "./codecs/float16.js";
import { dequantizeInt8, quantizeInt8, storedRowsPerScale } from "./codecs/int8.js";
import type { Shape } from "./tensor.js";
import { FileError } from "./errors.js";

export { float16Bits, float16Value } from "./codecs/float16.js";

/** Element types a file can store; all decode to Float32Array. */
export type Dtype = "f32" | "f16" | "i8";

/** How a tensor's values are laid out in its block. */
export type Layout = "dense" | "sparse" | "lowrank";

/** A rank-k factorisation of a tensor seen as [rows, cols]: left [rows, rank] · right [rank, cols]. */
export interface Factors {
  readonly left: Float32Array;
  readonly right: Float32Array;
  readonly rank: number;
}

/** Anything with a shape and float32 values: an engine Tensor, or a decoded tensor. */
export interface HostTensor {
  readonly shape: Shape;
  readonly data: Float32Array;
}

/**
 * A tensor and how to store it: `dtype` overrides the file's default; `sparse` stores only its non-zero
 * values; `factors` stores a low-rank factorisation instead of the values (which should be its product).
 */
export interface StoredTensor extends HostTensor {
  readonly dtype?: Dtype;
  readonly sparse?: boolean;
  readonly factors?: Factors;
}

/** Tensors by name, as an object or as ordered pairs (the order is kept in the file). */
export type NamedTensors<T> = Readonly<Record<string, T>> | readonly (readonly [string, T])[];

export interface DecodedTensor {
  shape: number[];
  dtype: Dtype;
  layout: Layout;
  /** Stored values (non-zeros of a sparse tensor, factor entries of a low-rank one). */
  stored: number;
  /** The factorisation's rank, for low-rank tensors. */
  rank?: number;
  /** Bytes of its block in the file. */
  bytes: number;
  data: Float32Array;
}

export interface DecodedParameters {
  version: number;
  /** The CRC-32 stored in (and verified against) the file. */
  checksum: number;
  tensors: Map<string, DecodedTensor>;
  meta: Record<string, unknown>;
}

export interface EncodeOptions {
  /**
   * Storage type of tensors without their own (default "f32"): "f16" halves the file, rounding to nearest
   * even; "i8" quarters it, each value within half its row group's scale.
   */
  dtype?: Dtype;
}

/** A file (or buffer) that is not a valid parameter file, or does not fit the model it is loaded into. */
export class ParameterFileError extends FileError {}

/** Version 2 added i8 values and the sparse and low-rank layouts; version 1 files (dense f32/f16) still load. */
export const FORMAT_VERSION = 2;
const OLDEST_VERSION = 1;
const MAGIC = "DRECPARM";
const DTYPE_BYTES: Record<Dtype, number> = { f32: 4, f16: 2, i8: 1 };
const LAYOUTS: readonly Layout[] = ["dense", "sparse", "lowrank"];

interface HeaderEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  layout: Layout;
  /** Non-zeros (sparse) or rank (low-rank); absent for dense tensors. */
  nonZeros?: number;
  rank?: number;
  /** Relative to the start of the data section. */
  offset: number;
  byteLength: number;
}

const elementsOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

// ---- encoding -----------------------------------------------------------------------------------

/** Serialise named tensors and JSON metadata into one parameter file image. */
export function encodeParameters(
  tensors: NamedTensors<StoredTensor>,
  meta: Record<string, unknown> = {},
  options: EncodeOptions = {},
): Buffer {
  const dtype = options.dtype ?? "f32";
  if (!(dtype in DTYPE_BYTES)) throw new RangeError(`encodeParameters: cannot store dtype "${dtype}"`);
  if (!isPlainObject(meta)) throw new TypeError("encodeParameters: meta must be a plain object");
  const entries = namedEntries(tensors, "encodeParameters");

  const encoded = entries.map(([name, tensor]) => {
    const shape = [...tensor.shape];
    if (!shape.every(isCount)) {
      throw new RangeError(`encodeParameters: tensor "${name}" has invalid shape ${formatShape(shape)}`);
    }
    if (tensor.data.length !== elementsOf(shape)) {
      throw new RangeError(
        `encodeParameters: tensor "${name}" has ${tensor.data.length} values for shape ${formatShape(shape)}`,
      );
    }
    try {
      return encodeTensor(tensor, tensor.dtype ?? dtype);
    } catch (err) {
      throw new RangeError(`encodeParameters: tensor "${name}": ${(err as Error).message}`, { cause: err });
    }
  });
  const blocks = encoded.map((e) => e.bytes);

  return encodeContainer({
    magic: MAGIC,
    version: FORMAT_VERSION,
    blocks,
    header: (offsets) => {
      const layout: HeaderEntry[] = entries.map(([name, tensor], i) => ({
        name,
        shape: [...tensor.shape],
        ...encoded[i]!.entry,
        offset: offsets[i]!,
        byteLength: blocks[i]!.byteLength,
      }));
      try {
        return JSON.stringify({ tensors: layout, meta });
      } catch (err) {
        throw new TypeError(`encodeParameters: meta is not JSON-serialisable: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  });
}

/** Write a parameter file atomically: to `path.tmp`, flushed to disk, then renamed over `path`. */
export function saveParameters(
  path: string,
  tensors: NamedTensors<StoredTensor>,
  meta: Record<string, unknown> = {},
  options: EncodeOptions = {},
): void {
  writeFileAtomic(path, encodeParameters(tensors, meta, options));
}

// ---- decoding -----------------------------------------------------------------------------------

/** Parse and verify a parameter file image; `source` names it in error messages. */
export function decodeParameters(buf: Buffer, source = "<buffer>"): DecodedParameters {
  const { version, checksum, header, blocks } = decodeContainer(buf, {
    magic: MAGIC,
    version: FORMAT_VERSION,
    oldestVersion: OLDEST_VERSION,
    what: "parameter file",
    noun: "tensor",
    error: ParameterFileError,
    source,
    readHeader: (json) => {
      const header = parseHeader(json);
      return { header, blocks: header.entries };
    },
  });
  const tensors = new Map<string, DecodedTensor>();
  header.entries.forEach((entry, i) => {
    try {
      tensors.set(entry.name, decodeTensor(entry, blocks[i]!));
    } catch (err) {
      if (!(err instanceof HeaderProblem)) throw err;
      throw new ParameterFileError(source, err.message);
    }
  });
  return { version, checksum, tensors, meta: header.meta };
}

/** Read and verify a parameter file. */
export function loadParameters(path: string): DecodedParameters {
  return decodeParameters(readFileSync(path), path);
}

/**
 * Copy a parameter file into existing tensors (a model's parameters). Every name and shape must match
 * exactly; nothing is copied unless all do. Returns the file's metadata.
 */
export function loadInto(path: string, named: NamedTensors<HostTensor>): Record<string, unknown> {
  const { tensors, meta } = loadParameters(path);
  const targets = namedEntries(named, "loadInto");
  const problems: string[] = [];
  for (const [name, target] of targets) {
    const stored = tensors.get(name);
    if (!stored) problems.push(`missing parameter ${name}`);
    else if (formatShape(stored.shape) !== formatShape(target.shape)) {
      problems.push(
        `shape mismatch for ${name}: file ${formatShape(stored.shape)} vs model ${formatShape(target.shape)}`,
      );
    }
  }
  const wanted = new Set(targets.map(([name]) => name));
  for (const name of tensors.keys()) if (!wanted.has(name)) problems.push(`unexpected parameter ${name}`);
  if (problems.length) throw new ParameterFileError(path, `does not match the model: ${problems.join("; ")}`);
  for (const [name, target] of targets) target.data.set(tensors.get(name)!.data);
  return meta;
}

// ---- header -------------------------------------------------------------------------------------

/** The tensor entries and metadata of a header; block offsets and overlaps are the container's to check. */
function parseHeader(json: Record<string, unknown>): { entries: HeaderEntry[]; meta: Record<string, unknown> } {
  if (!Array.isArray(json.tensors)) throw new HeaderProblem("malformed header: no tensors array");
  if (!isPlainObject(json.meta)) throw new HeaderProblem("malformed header: meta is not a JSON object");

  const names = new Set<string>();
  const entries = json.tensors.map((raw: unknown, i: number): HeaderEntry => {
    if (!isPlainObject(raw)) throw new HeaderProblem(`malformed header: tensor #${i} is not an object`);
    const { name, dtype, shape, offset, byteLength } = raw;
    if (typeof name !== "string" || name === "") throw new HeaderProblem(`malformed header: tensor #${i} has no name`);
    if (names.has(name)) throw new HeaderProblem(`duplicate tensor name "${name}"`);
    names.add(name);
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      throw new HeaderProblem(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new HeaderProblem(`malformed header: tensor "${name}" has invalid shape ${JSON.stringify(shape)}`);
    }
    const layout = raw.layout ?? "dense";
    if (!LAYOUTS.includes(layout as Layout)) {
      throw new HeaderProblem(`tensor "${name}" has unknown layout ${JSON.stringify(layout)}`);
    }
    const entry: HeaderEntry = {
      name,
      dtype: dtype as Dtype,
      shape,
      layout: layout as Layout,
      offset: 0,
      byteLength: 0,
    };
    const [rows, cols] = matrixOf(shape);
    if (layout === "sparse") {
      if (!isCount(raw.nonZeros) || raw.nonZeros > rows * cols) {
        throw new HeaderProblem(`tensor "${name}" has an invalid nonZeros ${JSON.stringify(raw.nonZeros)}`);
      }
      entry.nonZeros = raw.nonZeros;
    }
    if (layout === "lowrank") {
      if (!isCount(raw.rank) || raw.rank < 1 || raw.rank > Math.min(rows, cols)) {
        throw new HeaderProblem(`tensor "${name}" has an invalid rank ${JSON.stringify(raw.rank)}`);
      }
      entry.rank = raw.rank;
    }
    const needed = blockBytes(entry);
    if (byteLength !== needed) {
      const layoutText = layout === "dense" ? "" : ` ${layout}`;
      throw new HeaderProblem(
        `tensor "${name}" shape ${formatShape(shape)} of${layoutText} ${dtype} needs ${needed} bytes, but byteLength is ${JSON.stringify(byteLength)}`,
      );
    }
    return { ...entry, offset: offset as number, byteLength: needed };
  });
  return { entries, meta: json.meta };
}

// ---- helpers ------------------------------------------------------------------------------------

function namedEntries<T>(named: NamedTensors<T>, caller: string): (readonly [string, T])[] {
  const entries = Array.isArray(named) ? [...named] : Object.entries(named as Record<string, T>);
  const seen = new Set<string>();
  for (const [name] of entries) {
    if (typeof name !== "string" || name === "") throw new TypeError(`${caller}: every tensor needs a non-empty name`);
    if (seen.has(name)) throw new RangeError(`${caller}: duplicate tensor name "${name}"`);
    seen.add(name);
  }
  return entries;
}

// ---- tensor codec -------------------------------------------------------------------------------

/** A tensor seen as a matrix: [shape[0], the rest] for 2+ dimensions, one row otherwise. */
export function matrixOf(shape: readonly number[]): [number, number] {
  const n = elementsOf(shape);
  if (shape.length < 2) return [1, n];
  const rows = shape[0]!;
  return [rows, rows === 0 ? 0 : n / rows];
}

/** The [rows, cols] matrix two factors stand for, summed in double precision and rounded to float32. */
export function factorProduct({ left, right, rank }: Factors, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let k = 0; k < rank; k++) sum += left[r * rank + k]! * right[k * cols + j]!;
      out[r * cols + j] = sum;
    }
  }
  return out;
}

/** Bytes of `count` values of a [rows, cols] matrix (all of it, or `count` of them when sparse) stored as dtype. */
function valueBytes(dtype: Dtype, rows: number, cols: number, count = rows * cols): number {
  return dtype === "i8" ? 2 * Math.ceil(rows / storedRowsPerScale(cols)) + count : count * DTYPE_BYTES[dtype];
}

/** The block size a header entry implies. */
function blockBytes(entry: Omit<HeaderEntry, "offset" | "byteLength">): number {
  const [rows, cols] = matrixOf(entry.shape);
  if (entry.layout === "sparse")
    return Math.ceil((rows * cols) / 8) + valueBytes(entry.dtype, rows, cols, entry.nonZeros);
  if (entry.layout === "lowrank") {
    return valueBytes(entry.dtype, rows, entry.rank!) + valueBytes(entry.dtype, entry.rank!, cols);
  }
  return valueBytes(entry.dtype, rows, cols);
}

/**
 * Bytes a tensor of `shape` takes in a parameter file (its block, without alignment padding or header), as
 * dtype: dense, sparse with `nonZeros` stored values, or low-rank with factors of `rank` — known without
 * encoding it.
 */
export function storedBytes(
  shape: readonly number[],
  dtype: Dtype,
  layout: { nonZeros?: number; rank?: number } = {},
): number {
  const entry = { name: "", shape: [...shape], dtype };
  if (layout.rank !== undefined) return blockBytes({ ...entry, layout: "lowrank", rank: layout.rank });
  if (layout.nonZeros !== undefined) return blockBytes({ ...entry, layout: "sparse", nonZeros: layout.nonZeros });
  return blockBytes({ ...entry, layout: "dense" });
}

/**
 * The values a stored tensor decodes to: what a model loading the file will hold. Compression applies
 * this to a model's own parameters, so that it evaluates exactly what it saves.
 */
export function roundTrip(tensor: StoredTensor, dtype: Dtype = tensor.dtype ?? "f32"): Float32Array {
  const { entry, bytes } = encodeTensor(tensor, dtype);
  return decodeTensor({ ...entry, shape: [...tensor.shape], name: "", offset: 0, byteLength: bytes.length }, bytes)
    .data;
}

type EncodedEntry = Omit<HeaderEntry, "name" | "shape" | "offset" | "byteLength">;

function encodeTensor(tensor: StoredTensor, dtype: Dtype): { entry: EncodedEntry; bytes: Uint8Array } {
  if (!(dtype in DTYPE_BYTES)) throw new RangeError(`cannot store dtype "${dtype}"`);
  const [rows, cols] = matrixOf(tensor.shape);
  if (tensor.factors) {
    const { left, right, rank } = tensor.factors;
    if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols)) {
      throw new RangeError(`factor rank ${rank} is not in [1, ${Math.min(rows, cols)}]`);
    }
    if (left.length !== rows * rank || right.length !== rank * cols) {
      throw new RangeError(
        `factors of ${left.length} and ${right.length} values do not fit [${rows}, ${rank}]·[${rank}, ${cols}]`,
      );
    }
    const bytes = concatBytes([encodeValues(left, rows, rank, dtype), encodeValues(right, rank, cols, dtype)]);
    return { entry: { dtype, layout: "lowrank", rank }, bytes };
  }
  const values = tensor.data;
  if (!tensor.sparse) return { entry: { dtype, layout: "dense" }, bytes: encodeValues(values, rows, cols, dtype) };
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nonZeros = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== 0) {
      bitmap[i >>> 3]! |= 1 << (i & 7);
      nonZeros++;
    }
  }
  const kept = (all: ArrayLike<number>): number[] =>
    Array.from({ length: values.length }, (_, i) => i)
      .filter((i) => values[i] !== 0)
      .map((i) => all[i]!);
  let payload: Uint8Array;
  if (dtype === "i8") {
    // Scales come from the whole rows (zeros included), the codes only for the kept positions.
    const q = quantizeInt8(values, rows, cols, { rowsPerScale: storedRowsPerScale(cols), halfScales: true });
    payload = concatBytes([bytesOf(toFloat16(q.scales)), bytesOf(Int8Array.from(kept(q.data)))]);
  } else {
    payload = encodeValues(Float32Array.from(kept(values)), 1, nonZeros, dtype);
  }
  return { entry: { dtype, layout: "sparse", nonZeros }, bytes: concatBytes([bitmap, payload]) };
}

function decodeTensor(entry: HeaderEntry, bytes: Uint8Array): DecodedTensor {
  const { shape, dtype, layout } = entry;
  const [rows, cols] = matrixOf(shape);
  if (layout === "lowrank") {
    const rank = entry.rank!;
    const split = valueBytes(dtype, rows, rank);
    const left = decodeValues(bytes.subarray(0, split), rows, rank, dtype);
    const right = decodeValues(bytes.subarray(split), rank, cols, dtype);
    const data = factorProduct({ left, right, rank }, rows, cols);
    return { shape, dtype, layout, stored: left.length + right.length, rank, bytes: bytes.length, data };
  }
  if (layout === "dense") {
    return {
      shape,
      dtype,
      layout,
      stored: rows * cols,
      bytes: bytes.length,
      data: decodeValues(bytes, rows, cols, dtype),
    };
  }
  const n = rows * cols;
  const bitmapBytes = Math.ceil(n / 8);
  const positions: number[] = [];
  for (let i = 0; i < n; i++) if (bytes[i >>> 3]! & (1 << (i & 7))) positions.push(i);
  if (positions.length !== entry.nonZeros) {
    throw new HeaderProblem(
      `tensor "${entry.name}": its bitmap marks ${positions.length} values, the header says ${entry.nonZeros}`,
    );
  }
  const data = new Float32Array(n);
  const payload = bytes.subarray(bitmapBytes);
  if (dtype === "i8") {
    const rowsPerScale = storedRowsPerScale(cols);
    const groups = Math.ceil(rows / rowsPerScale);
    const scales = fromFloat16(halvesOf(payload.subarray(0, 2 * groups)));
    const codes = new Int8Array(payload.buffer, payload.byteOffset + 2 * groups, positions.length);
    positions.forEach((p, k) => (data[p] = codes[k]! * scales[Math.floor(Math.floor(p / cols) / rowsPerScale)]!));
  } else {
    const values = decodeValues(payload, 1, positions.length, dtype);
    positions.forEach((p, k) => (data[p] = values[k]!));
  }
  return { shape, dtype, layout, stored: positions.length, bytes: bytes.length, data };
}

/** A [rows, cols] matrix's values as dtype: raw f32 or f16, or i8 as float16 group scales then the codes. */
function encodeValues(values: Float32Array, rows: number, cols: number, dtype: Dtype): Uint8Array {
  if (dtype === "f32") return bytesOf(values);
  if (dtype === "f16") return bytesOf(toFloat16(values));
  const q = quantizeInt8(values, rows, cols, { rowsPerScale: storedRowsPerScale(cols), halfScales: true });
  return concatBytes([bytesOf(toFloat16(q.scales)), bytesOf(q.data)]);
}

function decodeValues(bytes: Uint8Array, rows: number, cols: number, dtype: Dtype): Float32Array {
  if (dtype === "f32") return copyFloat32(bytes);
  if (dtype === "f16") return fromFloat16(halvesOf(bytes));
  const rowsPerScale = storedRowsPerScale(cols);
  const groups = Math.ceil(rows / rowsPerScale);
  const scales = fromFloat16(halvesOf(bytes.subarray(0, 2 * groups)));
  const data = new Int8Array(bytes.buffer, bytes.byteOffset + 2 * groups, rows * cols);
  return dequantizeInt8({ data, scales, rows, dim: cols, rowsPerScale });
}

function bytesOf(values: Float32Array | Uint16Array | Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function copyFloat32(bytes: Uint8Array): Float32Array {
  const values = new Float32Array(bytes.length / 4);
  new Uint8Array(values.buffer).set(bytes);
  return values;
}

function halvesOf(bytes: Uint8Array): Uint16Array {
  const halves = new Uint16Array(bytes.length / 2);
  new Uint8Array(halves.buffer).set(bytes);
  return halves;
}
