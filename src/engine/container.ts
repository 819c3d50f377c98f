/**
 * The binary container shared by parameter files (docs/FORMAT.md) and soft-label caches: an 8-byte ASCII
 * magic, u32 version, u32 header length, a UTF-8 JSON header, 64-byte aligned data blocks and a trailing
 * CRC-32 of every preceding byte, all little-endian. Each format brings its own magic, version, Error
 * class, header validation and block interpretation; the framing, the checks and their wording live here.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { TextDecoder } from "node:util";
import { crc32 } from "node:zlib";

/** Magic, version and header length. */
const PREFIX_BYTES = 16;
const CRC_BYTES = 4;
export const BLOCK_ALIGN = 64;

export const align64 = (n: number): number => Math.ceil(n / BLOCK_ALIGN) * BLOCK_ALIGN;
const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-negative integer that doubles represent exactly. */
export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A data block as a header describes it; `offset` is relative to the data start. */
export interface BlockRef {
  name: string;
  offset: unknown;
  byteLength: unknown;
}

/** Why a header is invalid; thrown by a format's `readHeader`, reported by `decodeContainer`. */
export class HeaderProblem extends Error {}

export interface ContainerImage {
  magic: string;
  version: number;
  /** Block contents, laid out in order, each at the next 64-byte boundary. */
  blocks: readonly Uint8Array[];
  /** The header JSON, given each block's offset (relative to the data start). */
  header: (offsets: readonly number[]) => string;
}

/** A format's header as JSON; metadata JSON cannot hold is the caller's TypeError (`caller` names it). */
export function headerJson(caller: string, header: Record<string, unknown>): string {
  try {
    return JSON.stringify(header);
  } catch (err) {
    throw new TypeError(`${caller}: meta is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
}

/** Serialise one container image. */
export function encodeContainer({ magic, version, blocks, header }: ContainerImage): Buffer {
  const offsets: number[] = [];
  let dataLength = 0;
  for (const block of blocks) {
    offsets.push(dataLength);
    dataLength = align64(dataLength + block.byteLength);
  }
  const headerBytes = Buffer.from(header(offsets), "utf8");
  const dataStart = align64(PREFIX_BYTES + headerBytes.length);
  const file = Buffer.alloc(dataStart + dataLength + CRC_BYTES);
  file.write(magic, 0, "ascii");
  file.writeUInt32LE(version, 8);
  file.writeUInt32LE(headerBytes.length, 12);
  headerBytes.copy(file, PREFIX_BYTES);
  blocks.forEach((block, i) => file.set(block, dataStart + offsets[i]!));
  file.writeUInt32LE(crc32(file.subarray(0, file.length - CRC_BYTES)), file.length - CRC_BYTES);
  return file;
}

/** Write a file atomically: to `path.tmp`, flushed to disk, then renamed over `path`. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, "w");
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
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

export interface ContainerFormat<H> {
  magic: string;
  /** The newest version this build reads (and writes). */
  version: number;
  /** The oldest version this build still reads (default: `version` only). */
  oldestVersion?: number;
  /** "parameter file", "soft-label file": completes "not a distillrec …". */
  what: string;
  /** What a block holds ("tensor", "array"), for block errors. */
  noun: string;
  /** The format's error class; `source` names the file in its messages. */
  error: new (source: string, reason: string) => Error;
  source: string;
  /** Validate the header object (throwing HeaderProblem) and list its blocks. */
  readHeader: (json: Record<string, unknown>) => { header: H; blocks: readonly BlockRef[] };
}

export interface DecodedContainer<H> {
  version: number;
  /** The CRC-32 stored in (and verified against) the file. */
  checksum: number;
  header: H;
  /** Each block's bytes (views into the input), in the order `readHeader` listed them. */
  blocks: Uint8Array[];
}

/** Parse and verify a container image; every refusal is the format's error naming `source`. */
export function decodeContainer<H>(buf: Buffer, format: ContainerFormat<H>): DecodedContainer<H> {
  const { what, noun } = format;
  const refuse = (reason: string): never => {
    throw new format.error(format.source, reason);
  };
  const magic = Buffer.from(format.magic, "ascii");
  if (buf.length === 0) refuse("truncated: the file is empty");
  const seen = buf.subarray(0, Math.min(buf.length, magic.length));
  if (!seen.equals(magic.subarray(0, seen.length))) {
    refuse(`not a distillrec ${what} (magic is ${JSON.stringify(seen.toString("latin1"))})`);
  }
  if (buf.length < PREFIX_BYTES + CRC_BYTES) {
    refuse(`truncated: ${buf.length} bytes, shorter than the ${PREFIX_BYTES}-byte prefix and checksum`);
  }
  const version = buf.readUInt32LE(8);
  const oldest = format.oldestVersion ?? format.version;
  if (version < oldest || version > format.version) {
    const readable = oldest === format.version ? `version ${oldest}` : `versions ${oldest} to ${format.version}`;
    refuse(`unsupported format version ${version} (this build reads ${readable})`);
  }
  const headerLength = buf.readUInt32LE(12);
  if (PREFIX_BYTES + headerLength + CRC_BYTES > buf.length) {
    refuse(`truncated: the header needs ${PREFIX_BYTES + headerLength + CRC_BYTES} bytes, the file has ${buf.length}`);
  }

  // The checksum is checked early but reported late: a file cut short is "truncated", not "corrupted".
  const stored = buf.readUInt32LE(buf.length - CRC_BYTES);
  const computed = crc32(buf.subarray(0, buf.length - CRC_BYTES));
  const checksumMismatch = `corrupted: checksum mismatch (stored ${hex32(stored)}, computed ${hex32(computed)})`;

  let header: H;
  let refs: readonly BlockRef[];
  try {
    ({ header, blocks: refs } = format.readHeader(
      parseHeaderJson(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)),
    ));
    checkBlocks(refs, noun);
  } catch (err) {
    if (!(err instanceof HeaderProblem)) throw err;
    // A header bit flip is far likelier than a writer bug, so a failing checksum takes precedence.
    return refuse(
      stored === computed ? err.message : `${checksumMismatch}; the header is also invalid: ${err.message}`,
    );
  }
  const blocks = refs as readonly { name: string; offset: number; byteLength: number }[];

  const dataStart = align64(PREFIX_BYTES + headerLength);
  const last = blocks.reduce<(typeof blocks)[number] | undefined>(
    (a, b) => (a && a.offset + a.byteLength >= b.offset + b.byteLength ? a : b),
    undefined,
  );
  const expectedLength = dataStart + align64(last ? last.offset + last.byteLength : 0) + CRC_BYTES;
  if (buf.length < expectedLength) {
    // An intact checksum means the file was written this way: its header points past its own data.
    const lastEnd = last ? dataStart + last.offset + last.byteLength : 0;
    if (stored === computed && lastEnd > buf.length - CRC_BYTES) {
      refuse(
        `${noun} block out of bounds: "${last!.name}" ends at byte ${lastEnd}, ` +
          `past the end of the data at ${buf.length - CRC_BYTES}`,
      );
    }
    refuse(`truncated: the header describes ${expectedLength} bytes, the file has ${buf.length}`);
  }
  if (buf.length > expectedLength) {
    refuse(`unexpected trailing data: the header describes ${expectedLength} bytes, the file has ${buf.length}`);
  }
  if (stored !== computed) refuse(checksumMismatch);

  return {
    version,
    checksum: stored,
    header,
    blocks: blocks.map((b) => buf.subarray(dataStart + b.offset, dataStart + b.offset + b.byteLength)),
  };
}

function parseHeaderJson(bytes: Uint8Array): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new HeaderProblem(`malformed header JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(json)) throw new HeaderProblem("malformed header: not a JSON object");
  return json;
}

/** Offsets must be aligned, lengths whole and blocks disjoint; their order is free. */
function checkBlocks(blocks: readonly BlockRef[], noun: string): void {
  for (const { name, offset, byteLength } of blocks) {
    if (!isCount(offset) || !isCount(byteLength)) {
      throw new HeaderProblem(`malformed header: ${noun} "${name}" has an invalid offset or byteLength`);
    }
    if (offset % BLOCK_ALIGN !== 0) {
      throw new HeaderProblem(`${noun} "${name}" block offset ${offset} is not 64-byte aligned`);
    }
  }
  const byOffset = [...(blocks as readonly { name: string; offset: number; byteLength: number }[])].sort(
    (a, b) => a.offset - b.offset,
  );
  for (let i = 1; i < byOffset.length; i++) {
    const [a, b] = [byOffset[i - 1]!, byOffset[i]!];
    if (a.offset + a.byteLength > b.offset)
      throw new HeaderProblem(`${noun} blocks "${a.name}" and "${b.name}" overlap`);
  }
}
