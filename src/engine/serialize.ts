/**
 * The parameter file format (docs/FORMAT.md): the shared container (./container.ts) with a JSON header
 * describing every tensor, one data block per tensor. Decoding returns host Float32Arrays, so reading a
 * file never touches the WebAssembly runtime; `loadInto` copies them into a model's tensors.
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
import { fromFloat16, toFloat16 } from "./float16.js";
import type { Shape } from "./tensor.js";
import { FileError } from "./errors.js";

export { float16Bits, float16Value } from "./float16.js";

/** Element types a file can store; both decode to Float32Array. "i8" is reserved (docs/FORMAT.md). */
export type Dtype = "f32" | "f16";

/** Anything with a shape and float32 values: an engine Tensor, or a decoded tensor. */
export interface HostTensor {
  readonly shape: Shape;
  readonly data: Float32Array;
}

/** Tensors by name, as an object or as ordered pairs (the order is kept in the file). */
export type NamedTensors<T> = Readonly<Record<string, T>> | readonly (readonly [string, T])[];

export interface DecodedTensor {
  shape: number[];
  dtype: Dtype;
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
  /** Storage type of every tensor (default "f32"); "f16" halves the file and rounds to nearest even. */
  dtype?: Dtype;
}

/** A file (or buffer) that is not a valid parameter file, or does not fit the model it is loaded into. */
export class ParameterFileError extends FileError {}

export const FORMAT_VERSION = 1;
const MAGIC = "DRECPARM";
const DTYPE_BYTES: Record<Dtype, number> = { f32: 4, f16: 2 };
const RESERVED_DTYPES = new Set(["i8"]);

/** Bytes per stored element of a dtype. */
export function dtypeBytes(dtype: Dtype): number {
  return DTYPE_BYTES[dtype];
}

interface HeaderEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Relative to the start of the data section. */
  offset: number;
  byteLength: number;
}

const elementsOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

// ---- encoding -----------------------------------------------------------------------------------

/** Serialise named tensors and JSON metadata into one parameter file image. */
export function encodeParameters(
  tensors: NamedTensors<HostTensor>,
  meta: Record<string, unknown> = {},
  options: EncodeOptions = {},
): Buffer {
  const dtype = options.dtype ?? "f32";
  if (!(dtype in DTYPE_BYTES)) throw new RangeError(`encodeParameters: cannot store dtype "${dtype}"`);
  if (!isPlainObject(meta)) throw new TypeError("encodeParameters: meta must be a plain object");
  const entries = namedEntries(tensors, "encodeParameters");

  const blocks = entries.map(([name, tensor]) => {
    const shape = [...tensor.shape];
    if (!shape.every(isCount)) {
      throw new RangeError(`encodeParameters: tensor "${name}" has invalid shape ${formatShape(shape)}`);
    }
    if (tensor.data.length !== elementsOf(shape)) {
      throw new RangeError(
        `encodeParameters: tensor "${name}" has ${tensor.data.length} values for shape ${formatShape(shape)}`,
      );
    }
    const stored = dtype === "f16" ? toFloat16(tensor.data) : tensor.data;
    return new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
  });

  return encodeContainer({
    magic: MAGIC,
    version: FORMAT_VERSION,
    blocks,
    header: (offsets) => {
      const layout: HeaderEntry[] = entries.map(([name, tensor], i) => ({
        name,
        dtype,
        shape: [...tensor.shape],
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
  tensors: NamedTensors<HostTensor>,
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
  header.entries.forEach(({ name, dtype, shape }, i) => {
    const bytes = blocks[i]!;
    tensors.set(name, { shape, dtype, data: dtype === "f16" ? fromFloat16(halvesOf(bytes)) : copyFloat32(bytes) });
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
    if (typeof dtype === "string" && RESERVED_DTYPES.has(dtype)) {
      throw new HeaderProblem(`tensor "${name}" has dtype "${dtype}", reserved but not supported by this version`);
    }
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      throw new HeaderProblem(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new HeaderProblem(`malformed header: tensor "${name}" has invalid shape ${JSON.stringify(shape)}`);
    }
    const needed = elementsOf(shape) * DTYPE_BYTES[dtype as Dtype];
    if (byteLength !== needed) {
      throw new HeaderProblem(
        `tensor "${name}" shape ${formatShape(shape)} of ${dtype} needs ${needed} bytes, but byteLength is ${JSON.stringify(byteLength)}`,
      );
    }
    return { name, dtype: dtype as Dtype, shape, offset: offset as number, byteLength: needed };
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
