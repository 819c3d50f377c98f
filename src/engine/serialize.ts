/**
 * The parameter file format (docs/FORMAT.md): a fixed prefix, a JSON header describing every tensor,
 * 64-byte aligned data blocks and a trailing CRC-32. Decoding returns host Float32Arrays, so reading a
 * file never touches the WebAssembly runtime; `loadInto` copies them into a model's tensors.
 *
 * Like WebAssembly memory, the data blocks are little-endian; the byte copies below assume a
 * little-endian host, as every typed-array view of the engine's memory already does.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { TextDecoder } from "node:util";
import { crc32 } from "node:zlib";
import type { Shape } from "./tensor.js";

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
export class ParameterFileError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = "ParameterFileError";
  }
}

export const FORMAT_VERSION = 1;
const MAGIC = Buffer.from("DRECPARM", "ascii");
/** Magic, version and header length. */
const PREFIX_BYTES = 16;
const ALIGN = 64;
const CRC_BYTES = 4;
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

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;
const elementsOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;
const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

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

  let dataLength = 0;
  const layout: HeaderEntry[] = entries.map(([name, tensor]) => {
    const shape = [...tensor.shape];
    if (!shape.every(isCount)) {
      throw new RangeError(`encodeParameters: tensor "${name}" has invalid shape ${formatShape(shape)}`);
    }
    if (tensor.data.length !== elementsOf(shape)) {
      throw new RangeError(
        `encodeParameters: tensor "${name}" has ${tensor.data.length} values for shape ${formatShape(shape)}`,
      );
    }
    const entry = { name, dtype, shape, offset: dataLength, byteLength: tensor.data.length * DTYPE_BYTES[dtype] };
    dataLength = align(dataLength + entry.byteLength);
    return entry;
  });

  let headerJson: string;
  try {
    headerJson = JSON.stringify({ tensors: layout, meta });
  } catch (err) {
    throw new TypeError(`encodeParameters: meta is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
  const header = Buffer.from(headerJson, "utf8");
  const dataStart = align(PREFIX_BYTES + header.length);
  const file = Buffer.alloc(dataStart + dataLength + CRC_BYTES);
  MAGIC.copy(file, 0);
  file.writeUInt32LE(FORMAT_VERSION, 8);
  file.writeUInt32LE(header.length, 12);
  header.copy(file, PREFIX_BYTES);
  layout.forEach((entry, i) => {
    const values = entries[i]![1].data;
    const stored = dtype === "f16" ? toFloat16(values) : values;
    file.set(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength), dataStart + entry.offset);
  });
  file.writeUInt32LE(crc32(file.subarray(0, file.length - CRC_BYTES)), file.length - CRC_BYTES);
  return file;
}

/** Write a parameter file atomically: to `path.tmp`, flushed to disk, then renamed over `path`. */
export function saveParameters(
  path: string,
  tensors: NamedTensors<HostTensor>,
  meta: Record<string, unknown> = {},
  options: EncodeOptions = {},
): void {
  const file = encodeParameters(tensors, meta, options);
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, "w");
    try {
      let written = 0;
      while (written < file.length) written += writeSync(fd, file, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

// ---- decoding -----------------------------------------------------------------------------------

/** Parse and verify a parameter file image; `source` names it in error messages. */
export function decodeParameters(buf: Buffer, source = "<buffer>"): DecodedParameters {
  const refuse = (reason: string): never => {
    throw new ParameterFileError(source, reason);
  };
  if (buf.length < PREFIX_BYTES) {
    const seen = Math.min(buf.length, MAGIC.length);
    if (!buf.subarray(0, seen).equals(MAGIC.subarray(0, seen))) refuse("not a distillrec parameter file (bad magic)");
    refuse(`truncated: ${buf.length} bytes, shorter than the ${PREFIX_BYTES}-byte prefix`);
  }
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    refuse(`not a distillrec parameter file (magic is ${buf.subarray(0, MAGIC.length).toString("hex")})`);
  }
  const version = buf.readUInt32LE(8);
  if (version !== FORMAT_VERSION) {
    refuse(`unsupported format version ${version} (this build reads version ${FORMAT_VERSION})`);
  }
  const headerLength = buf.readUInt32LE(12);
  if (PREFIX_BYTES + headerLength + CRC_BYTES > buf.length) {
    refuse(`truncated: the header needs ${PREFIX_BYTES + headerLength + CRC_BYTES} bytes, the file has ${buf.length}`);
  }

  // The checksum is checked early but reported late: a file cut short is "truncated", not "corrupted".
  const stored = buf.readUInt32LE(buf.length - CRC_BYTES);
  const computed = crc32(buf.subarray(0, buf.length - CRC_BYTES));
  const checksumMismatch = `corrupted: checksum mismatch (stored ${hex32(stored)}, computed ${hex32(computed)})`;

  let header: { entries: HeaderEntry[]; meta: Record<string, unknown> };
  try {
    header = parseHeader(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
  } catch (err) {
    if (!(err instanceof HeaderProblem)) throw err;
    // A header bit flip is far likelier than a writer bug, so a failing checksum takes precedence.
    return refuse(
      stored === computed ? err.message : `${checksumMismatch}; the header is also invalid: ${err.message}`,
    );
  }

  const dataStart = align(PREFIX_BYTES + headerLength);
  const last = header.entries.reduce<HeaderEntry | undefined>(
    (a, e) => (a && a.offset + a.byteLength >= e.offset + e.byteLength ? a : e),
    undefined,
  );
  const dataEnd = dataStart + align(last ? last.offset + last.byteLength : 0);
  const expectedLength = dataEnd + CRC_BYTES;
  if (buf.length < expectedLength) {
    // An intact checksum means the file was written this way: its header points past its own data.
    const lastEnd = last ? dataStart + last.offset + last.byteLength : 0;
    if (stored === computed && lastEnd > buf.length - CRC_BYTES) {
      refuse(
        `tensor block out of bounds: "${last!.name}" ends at byte ${lastEnd}, ` +
          `past the end of the data at ${buf.length - CRC_BYTES}`,
      );
    }
    refuse(`truncated: the header describes ${expectedLength} bytes, the file has ${buf.length}`);
  }
  if (buf.length > expectedLength) {
    refuse(`unexpected trailing data: the header describes ${expectedLength} bytes, the file has ${buf.length}`);
  }
  if (stored !== computed) refuse(checksumMismatch);

  const tensors = new Map<string, DecodedTensor>();
  for (const { name, dtype, shape, offset, byteLength } of header.entries) {
    const bytes = buf.subarray(dataStart + offset, dataStart + offset + byteLength);
    tensors.set(name, { shape, dtype, data: dtype === "f16" ? fromFloat16(bytes) : copyFloat32(bytes) });
  }
  return { version, checksum: stored, tensors, meta: header.meta };
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

/** A reason the header is invalid; decodeParameters decides how to report it. */
class HeaderProblem extends Error {}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseHeader(bytes: Uint8Array): { entries: HeaderEntry[]; meta: Record<string, unknown> } {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new HeaderProblem(`malformed header JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(json)) throw new HeaderProblem("malformed header: not a JSON object");
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
    if (!isCount(offset) || !isCount(byteLength)) {
      throw new HeaderProblem(`malformed header: tensor "${name}" has an invalid offset or byteLength`);
    }
    if (offset % ALIGN !== 0) throw new HeaderProblem(`tensor "${name}" block offset ${offset} is not 64-byte aligned`);
    const needed = elementsOf(shape) * DTYPE_BYTES[dtype as Dtype];
    if (byteLength !== needed) {
      throw new HeaderProblem(
        `tensor "${name}" shape ${formatShape(shape)} of ${dtype} needs ${needed} bytes, but byteLength is ${byteLength}`,
      );
    }
    return { name, dtype: dtype as Dtype, shape, offset, byteLength };
  });

  const byOffset = [...entries].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const [a, b] = [byOffset[i - 1]!, byOffset[i]!];
    if (a.offset + a.byteLength > b.offset)
      throw new HeaderProblem(`tensor blocks "${a.name}" and "${b.name}" overlap`);
  }
  return { entries, meta: json.meta };
}

// ---- helpers ------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-negative integer that doubles represent exactly. */
function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

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

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits of a float, rounded to nearest even (overflow → ±Infinity, NaN stays NaN). */
export function float16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const rawExponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (rawExponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exponent = rawExponent - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    // Subnormal half: the implicit leading one joins the mantissa, shifted into units of 2^-24.
    if (exponent < -10) return sign;
    return sign | roundShift(mantissa | 0x800000, 14 - exponent);
  }
  // A carry out of the mantissa correctly bumps the exponent (and reaches Infinity at the top).
  return sign | roundShift((exponent << 23) | mantissa, 13);
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const quotient = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && quotient & 1) ? quotient + 1 : quotient;
}

/** The float value of IEEE 754 binary16 bits. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function toFloat16(values: Float32Array): Uint16Array {
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) halves[i] = float16Bits(values[i]!);
  return halves;
}

function fromFloat16(bytes: Uint8Array): Float32Array {
  const halves = new Uint16Array(bytes.length / 2);
  new Uint8Array(halves.buffer).set(bytes);
  const values = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) values[i] = float16Value(halves[i]!);
  return values;
}
