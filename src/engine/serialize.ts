/**
 * The parameter file format (docs/FORMAT.md): the shared container (./container.ts) with a JSON header
 * describing every tensor, one data block per tensor, each encoded by ./tensor-codec.ts (dense, sparse or
 * low-rank; f32, f16 or i8). Decoding always returns dense host Float32Arrays, so a compressed file loads
 * into a model unchanged and reading never touches the WebAssembly runtime; `loadInto` copies them into a
 * model's tensors.
 */
import { readFileSync } from "node:fs";
import {
  decodeContainer,
  encodeContainer,
  HeaderProblem,
  headerJson,
  isCount,
  isPlainObject,
  writeFileAtomic,
} from "./container.js";
import { FileError } from "./errors.js";
import {
  blockBytes,
  decodeTensor,
  DTYPE_BYTES,
  elementsOf,
  encodeTensor,
  formatShape,
  matrixOf,
  type DecodedTensor,
  type Dtype,
  type HeaderEntry,
  type HostTensor,
  type Layout,
  type StoredTensor,
} from "./tensor-codec.js";

export { float16Bits, float16Value } from "./codecs/float16.js";
export {
  factorProduct,
  matrixOf,
  roundTrip,
  storedBytes,
  type DecodedTensor,
  type Dtype,
  type Factors,
  type HostTensor,
  type Layout,
  type StoredTensor,
} from "./tensor-codec.js";

/** Tensors by name, as an object or as ordered pairs (the order is kept in the file). */
export type NamedTensors<T> = Readonly<Record<string, T>> | readonly (readonly [string, T])[];

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
const LAYOUTS: readonly Layout[] = ["dense", "sparse", "lowrank"];

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
      return headerJson("encodeParameters", { tensors: layout, meta });
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
