/**
 * One tensor's block of a parameter file (./serialize.ts, docs/FORMAT.md): its layout — dense, sparse (a
 * bitmap of the non-zeros and their values) or low-rank (two factors) — and its values as f32, f16 or i8
 * (row-group scales, float16 scales then the codes), encoded to bytes and decoded back to a dense
 * Float32Array. The byte copies assume a little-endian host, like every view of the engine's memory.
 */
import { HeaderProblem } from "./container.js";
import { fromFloat16, toFloat16 } from "./codecs/float16.js";
import { dequantizeInt8, quantizeInt8, storedRowsPerScale, type Int8Matrix } from "./codecs/int8.js";
import type { Shape } from "./tensor.js";

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

export const DTYPE_BYTES: Record<Dtype, number> = { f32: 4, f16: 2, i8: 1 };

export interface HeaderEntry {
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

export const elementsOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
export const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

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
export function blockBytes(entry: Omit<HeaderEntry, "offset" | "byteLength">): number {
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

export function encodeTensor(tensor: StoredTensor, dtype: Dtype): { entry: EncodedEntry; bytes: Uint8Array } {
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
    const q = quantizeStored(values, rows, cols);
    payload = concatBytes([bytesOf(toFloat16(q.scales)), bytesOf(Int8Array.from(kept(q.data)))]);
  } else {
    payload = encodeValues(Float32Array.from(kept(values)), 1, nonZeros, dtype);
  }
  return { entry: { dtype, layout: "sparse", nonZeros }, bytes: concatBytes([bitmap, payload]) };
}

export function decodeTensor(entry: HeaderEntry, bytes: Uint8Array): DecodedTensor {
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
  const q = quantizeStored(values, rows, cols);
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

/** A [rows, cols] matrix quantised as an i8 block stores it: stored rows per scale, float16 scales. */
function quantizeStored(values: Float32Array, rows: number, cols: number): Int8Matrix {
  return quantizeInt8(values, rows, cols, { rowsPerScale: storedRowsPerScale(cols), halfScales: true });
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
