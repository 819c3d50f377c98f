/**
 * context.bin of a model artefact (./artefact.ts): a ModelContext — sizes, feature columns and
 * histories — as one checksummed binary file, and the artefact's error class.
 */
import { crc32 } from "node:zlib";
import { FileError } from "../engine/errors.js";
import type { FeatureInputs, ModelContext } from "./context.js";

/** An artefact directory that is missing, corrupted, or inconsistent; the message names the file and reason. */
export class ArtefactError extends FileError {}

const CONTEXT_MAGIC = Buffer.from("DRECCTX1", "ascii");
const CONTEXT_VERSION = 1;
const CONTEXT_PREFIX = 16;
const CONTEXT_ALIGN = 8;

type ArrayDtype = "i32" | "f32";
type TypedArray = Int32Array | Float32Array;

interface ContextArrayEntry {
  name: string;
  dtype: ArrayDtype;
  length: number;
  offset: number;
}

interface FeatureLayout {
  categorical: { name: string; vocabSize: number }[];
  multi: { name: string; vocabSize: number }[];
  numeric: { name: string }[];
}

interface ContextHeader {
  numUsers: number;
  numItems: number;
  userFeatures?: FeatureLayout;
  itemFeatures?: FeatureLayout;
  histories: boolean;
  arrays: ContextArrayEntry[];
}

/**
 * Serialise a ModelContext: magic "DRECCTX1", u32 version, u32 header length, a JSON header (sizes,
 * feature names and vocabularies, and every typed array by name, dtype, length and offset), 8-byte
 * aligned little-endian array data, and a trailing CRC-32 of everything before it.
 */
export function encodeContext(context: ModelContext): Buffer {
  const arrays: [string, ArrayDtype, TypedArray][] = [];
  const layoutOf = (prefix: string, features: FeatureInputs): FeatureLayout => {
    for (const c of features.categorical) arrays.push([`${prefix}.categorical.${c.name}.ids`, "i32", c.ids]);
    for (const m of features.multi) {
      arrays.push([`${prefix}.multi.${m.name}.offsets`, "i32", m.offsets]);
      arrays.push([`${prefix}.multi.${m.name}.ids`, "i32", m.ids]);
    }
    for (const n of features.numeric) arrays.push([`${prefix}.numeric.${n.name}.values`, "f32", n.values]);
    return {
      categorical: features.categorical.map(({ name, vocabSize }) => ({ name, vocabSize })),
      multi: features.multi.map(({ name, vocabSize }) => ({ name, vocabSize })),
      numeric: features.numeric.map(({ name }) => ({ name })),
    };
  };
  const header: ContextHeader = {
    numUsers: context.numUsers,
    numItems: context.numItems,
    histories: context.histories !== undefined,
    arrays: [],
  };
  if (context.userFeatures) header.userFeatures = layoutOf("userFeatures", context.userFeatures);
  if (context.itemFeatures) header.itemFeatures = layoutOf("itemFeatures", context.itemFeatures);
  if (context.histories) {
    arrays.push(["histories.offsets", "i32", context.histories.offsets]);
    arrays.push(["histories.items", "i32", context.histories.items]);
  }
  let dataLength = 0;
  header.arrays = arrays.map(([name, dtype, values]) => {
    const entry = { name, dtype, length: values.length, offset: dataLength };
    dataLength = alignTo(dataLength + values.byteLength, CONTEXT_ALIGN);
    return entry;
  });
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  const dataStart = alignTo(CONTEXT_PREFIX + headerBytes.length, CONTEXT_ALIGN);
  const file = Buffer.alloc(dataStart + dataLength + 4);
  CONTEXT_MAGIC.copy(file, 0);
  file.writeUInt32LE(CONTEXT_VERSION, 8);
  file.writeUInt32LE(headerBytes.length, 12);
  headerBytes.copy(file, CONTEXT_PREFIX);
  header.arrays.forEach((entry, k) => {
    const values = arrays[k]![2];
    file.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), dataStart + entry.offset);
  });
  file.writeUInt32LE(crc32(file.subarray(0, file.length - 4)), file.length - 4);
  return file;
}

/** Parse and verify a context file image written by encodeContext; `source` names it in errors. */
export function decodeContext(buf: Buffer, source = "<context>"): ModelContext {
  const refuse = (reason: string): never => {
    throw new ArtefactError(source, reason);
  };
  if (buf.length < CONTEXT_PREFIX + 4 || !buf.subarray(0, 8).equals(CONTEXT_MAGIC)) {
    refuse("not a distillrec context file (bad magic or truncated)");
  }
  const version = buf.readUInt32LE(8);
  if (version !== CONTEXT_VERSION) refuse(`unsupported context version ${version}`);
  if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) {
    refuse("corrupted: context checksum mismatch");
  }
  const headerLength = buf.readUInt32LE(12);
  let header: ContextHeader;
  try {
    header = JSON.parse(buf.subarray(CONTEXT_PREFIX, CONTEXT_PREFIX + headerLength).toString("utf8")) as ContextHeader;
  } catch (err) {
    return refuse(`malformed header: ${(err as Error).message}`);
  }
  const dataStart = alignTo(CONTEXT_PREFIX + headerLength, CONTEXT_ALIGN);
  const arrays = new Map<string, TypedArray>();
  for (const { name, dtype, length, offset } of header.arrays ?? []) {
    const start = dataStart + offset;
    const end = start + length * 4;
    if (end > buf.length - 4) refuse(`array "${name}" runs past the end of the file`);
    const bytes = new Uint8Array(length * 4);
    bytes.set(buf.subarray(start, end));
    arrays.set(name, dtype === "f32" ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer));
  }
  const take = <T extends TypedArray>(name: string): T => {
    const values = arrays.get(name);
    if (!values) return refuse(`missing array "${name}"`);
    return values as T;
  };
  const features = (prefix: string, layout: FeatureLayout): FeatureInputs => ({
    categorical: layout.categorical.map(({ name, vocabSize }) => ({
      name,
      vocabSize,
      ids: take<Int32Array>(`${prefix}.categorical.${name}.ids`),
    })),
    multi: layout.multi.map(({ name, vocabSize }) => ({
      name,
      vocabSize,
      offsets: take<Int32Array>(`${prefix}.multi.${name}.offsets`),
      ids: take<Int32Array>(`${prefix}.multi.${name}.ids`),
    })),
    numeric: layout.numeric.map(({ name }) => ({
      name,
      values: take<Float32Array>(`${prefix}.numeric.${name}.values`),
    })),
  });
  const context: ModelContext = { numUsers: header.numUsers, numItems: header.numItems };
  if (header.userFeatures) context.userFeatures = features("userFeatures", header.userFeatures);
  if (header.itemFeatures) context.itemFeatures = features("itemFeatures", header.itemFeatures);
  if (header.histories) {
    context.histories = { offsets: take<Int32Array>("histories.offsets"), items: take<Int32Array>("histories.items") };
    if (context.histories.offsets.length !== header.numUsers + 1) {
      refuse(`histories have ${context.histories.offsets.length - 1} users, the context ${header.numUsers}`);
    }
  }
  return context;
}

function alignTo(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
