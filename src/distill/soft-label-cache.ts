/**
 * The on-disk cache of soft labels (soft-labels.ts), so that student training never runs the teacher.
 *
 * ## Cache file format (version 1)
 *
 * The container of parameter files (src/engine/container.ts, docs/FORMAT.md), with its own magic and
 * header. All integers little-endian.
 *
 * | bytes              | content                                                                      |
 * | ------------------ | ---------------------------------------------------------------------------- |
 * | 0–7                | magic `DRECSOFT` (ASCII)                                                     |
 * | 8–11               | u32 format version (1)                                                       |
 * | 12–15              | u32 header length H in bytes                                                 |
 * | 16 … 16+H          | UTF-8 JSON header (below)                                                    |
 * | … D                | zero padding up to D = ceil((16 + H) / 64) · 64, the start of the data       |
 * | D + offset …       | one block per array, `offset` relative to D, 64-byte aligned, zero-padded    |
 * | last 4 bytes       | u32 CRC-32 (zlib) of every preceding byte                                    |
 *
 * Header: `{ rows, listLength, topK, positives, negatives, arrays: [{ name, dtype, offset, byteLength }],
 * meta }` with dtype "i32" | "f32" | "u8". Arrays: `users` (i32, rows), `items` (i32, rows·L),
 * `teacherScores` (f32, rows·L), `kinds` (u8, rows·L), `topKItems` (i32, rows·K) and, for multi-task
 * teachers, `task:<name>` (f32, rows·L) per task head. `meta` is free JSON (teacher id, seed, dataset
 * fingerprint, generation options) compared by `loadOrGenerate` through `softLabelsFingerprint`.
 * Files are written atomically (temporary file, fsync, rename); truncated, corrupted, wrong-magic or
 * inconsistent files are refused with a `SoftLabelFileError` naming the file.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import {
  decodeContainer,
  encodeContainer,
  HeaderProblem,
  headerJson,
  isCount,
  isPlainObject,
  writeFileAtomic,
} from "../engine/container.js";
import { FileError } from "../engine/errors.js";
import type { Module } from "../engine/nn.js";
import type { SoftLabels } from "./soft-labels.js";

/** A file (or buffer) that is not a valid soft-label cache. */
export class SoftLabelFileError extends FileError {}

export const SOFT_LABEL_FORMAT_VERSION = 1;
const MAGIC = "DRECSOFT";
type ArrayDtype = "i32" | "f32" | "u8";
const DTYPE_BYTES: Record<ArrayDtype, number> = { i32: 4, f32: 4, u8: 1 };
const TASK_PREFIX = "task:";

interface ArrayEntry {
  name: string;
  dtype: ArrayDtype;
  offset: number;
  byteLength: number;
}

type AnyArray = Int32Array | Float32Array | Uint8Array;

function namedArrays(labels: SoftLabels): [string, ArrayDtype, AnyArray][] {
  const out: [string, ArrayDtype, AnyArray][] = [
    ["users", "i32", labels.users],
    ["items", "i32", labels.items],
    ["teacherScores", "f32", labels.teacherScores],
    ["kinds", "u8", labels.kinds],
    ["topKItems", "i32", labels.topKItems],
  ];
  for (const [name, values] of Object.entries(labels.taskScores ?? {})) out.push([TASK_PREFIX + name, "f32", values]);
  return out;
}

/** The element count each array must have for a header's dimensions. */
function expectedLength(name: string, rows: number, listLength: number, topK: number): number | undefined {
  if (name === "users") return rows;
  if (name === "topKItems") return rows * topK;
  if (name === "items" || name === "teacherScores" || name === "kinds" || name.startsWith(TASK_PREFIX)) {
    return rows * listLength;
  }
  return undefined;
}

function expectedDtype(name: string): ArrayDtype | undefined {
  if (name === "users" || name === "items" || name === "topKItems") return "i32";
  if (name === "kinds") return "u8";
  if (name === "teacherScores" || name.startsWith(TASK_PREFIX)) return "f32";
  return undefined;
}

/** Serialise soft labels and JSON metadata into one cache file image. */
export function encodeSoftLabels(labels: SoftLabels, meta: Record<string, unknown> = {}): Buffer {
  const rows = labels.users.length;
  const { listLength, topK, positives, negatives } = labels;
  if (positives + topK + negatives !== listLength) {
    throw new RangeError(`encodeSoftLabels: P ${positives} + K ${topK} + N ${negatives} ≠ listLength ${listLength}`);
  }
  const arrays = namedArrays(labels);
  const blocks = arrays.map(([name, , values]) => {
    const want = expectedLength(name, rows, listLength, topK)!;
    if (values.length !== want) {
      throw new RangeError(`encodeSoftLabels: array "${name}" has ${values.length} values, expected ${want}`);
    }
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  });
  return encodeContainer({
    magic: MAGIC,
    version: SOFT_LABEL_FORMAT_VERSION,
    blocks,
    header: (offsets) => {
      const entries: ArrayEntry[] = arrays.map(([name, dtype], i) => ({
        name,
        dtype,
        offset: offsets[i]!,
        byteLength: blocks[i]!.byteLength,
      }));
      return headerJson("encodeSoftLabels", { rows, listLength, topK, positives, negatives, arrays: entries, meta });
    },
  });
}

/** Write a soft-label cache atomically: to `path.tmp`, flushed, then renamed over `path`. */
export function saveSoftLabels(path: string, labels: SoftLabels, meta: Record<string, unknown> = {}): void {
  writeFileAtomic(path, encodeSoftLabels(labels, meta));
}

/** Parse and verify a cache file image; `source` names it in error messages. */
export function decodeSoftLabels(
  buf: Buffer,
  source = "<buffer>",
): { labels: SoftLabels; meta: Record<string, unknown> } {
  const { header, blocks } = decodeContainer(buf, {
    magic: MAGIC,
    version: SOFT_LABEL_FORMAT_VERSION,
    what: "soft-label file",
    noun: "array",
    error: SoftLabelFileError,
    source,
    readHeader: (json) => {
      const problem = headerProblem(json);
      if (problem) throw new HeaderProblem(`malformed header: ${problem}`);
      return { header: json, blocks: json.arrays as ArrayEntry[] };
    },
  });
  const entries = header.arrays as ArrayEntry[];
  const read = (i: number): AnyArray => {
    const { dtype, byteLength } = entries[i]!;
    const out =
      dtype === "u8"
        ? new Uint8Array(byteLength)
        : dtype === "i32"
          ? new Int32Array(byteLength / 4)
          : new Float32Array(byteLength / 4);
    new Uint8Array(out.buffer).set(blocks[i]!);
    return out;
  };
  const index = new Map(entries.map((e, i) => [e.name, i]));
  const labels: SoftLabels = {
    users: read(index.get("users")!) as Int32Array,
    listLength: header.listLength as number,
    positives: header.positives as number,
    topK: header.topK as number,
    negatives: header.negatives as number,
    items: read(index.get("items")!) as Int32Array,
    teacherScores: read(index.get("teacherScores")!) as Float32Array,
    kinds: read(index.get("kinds")!) as Uint8Array,
    topKItems: read(index.get("topKItems")!) as Int32Array,
  };
  entries.forEach((e, i) => {
    if (e.name.startsWith(TASK_PREFIX))
      (labels.taskScores ??= {})[e.name.slice(TASK_PREFIX.length)] = read(i) as Float32Array;
  });
  return { labels, meta: header.meta as Record<string, unknown> };
}

/** Why a parsed header is unusable, or undefined when it is consistent (block layout is the container's). */
function headerProblem(h: Record<string, unknown>): string | undefined {
  const { rows, listLength, topK, positives, negatives, arrays, meta } = h;
  if (![rows, listLength, topK, positives, negatives].every(isCount)) {
    return "rows, listLength, topK, positives and negatives must be non-negative integers";
  }
  if ((positives as number) + (topK as number) + (negatives as number) !== listLength) {
    return `positives ${positives} + topK ${topK} + negatives ${negatives} ≠ listLength ${listLength}`;
  }
  if (!isPlainObject(meta)) return "meta is not a JSON object";
  if (!Array.isArray(arrays)) return "no arrays list";
  const names = new Set<string>();
  for (const [i, raw] of arrays.entries()) {
    if (!isPlainObject(raw)) return `array #${i} is not an object`;
    const { name, dtype, byteLength } = raw;
    if (typeof name !== "string" || name === "") return `array #${i} has no name`;
    if (names.has(name)) return `duplicate array "${name}"`;
    names.add(name);
    const want = expectedDtype(name);
    if (want === undefined) return `unknown array "${name}"`;
    if (dtype !== want) return `array "${name}" has dtype ${JSON.stringify(dtype)}, expected "${want}"`;
    const bytes = expectedLength(name, rows as number, listLength as number, topK as number)! * DTYPE_BYTES[want];
    if (byteLength !== bytes)
      return `array "${name}" has ${JSON.stringify(byteLength)} bytes, the dimensions need ${bytes}`;
  }
  for (const name of ["users", "items", "teacherScores", "kinds", "topKItems"]) {
    if (!names.has(name)) return `array "${name}" is missing`;
  }
  return undefined;
}

/** Read and verify a soft-label cache file. */
export function loadSoftLabels(path: string): { labels: SoftLabels; meta: Record<string, unknown> } {
  return decodeSoftLabels(readFileSync(path), path);
}

// ---- cache reuse ---------------------------------------------------------------------------------

/** JSON with object keys sorted at every level, so equal metadata always serialises identically. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * A stable hash (SHA-256 hex) of soft-label metadata: key order does not matter, every value does. Put
 * whatever must match for a cache to be valid in the metadata: the teacher (e.g. `modelFingerprint`),
 * the dataset fingerprint, the seed and the generation options (P, K, N, users).
 */
export function softLabelsFingerprint(meta: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(meta)).digest("hex");
}

/** A SHA-256 hex digest of a model's parameter names, shapes and values: changes whenever the teacher does. */
export function modelFingerprint(model: Module): string {
  const hash = createHash("sha256");
  for (const [name, t] of model.namedParameters()) {
    hash.update(`${name}[${t.shape.join(",")}]`);
    const data = t.data;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}

/** What `loadOrGenerate` did: reused the cache, or generated (and why). */
export interface CachedSoftLabels {
  labels: SoftLabels;
  meta: Record<string, unknown>;
  cached: boolean;
  /** Why the labels were generated: "missing", "stale" (metadata differs) or the load error. */
  reason?: string;
}

/**
 * Reuse the cache at `path` when its metadata has `expectedMeta`'s fingerprint; otherwise (missing,
 * stale, unreadable or corrupted) call `generate`, save the result with `expectedMeta` and return it.
 */
export function loadOrGenerate(
  path: string,
  expectedMeta: Record<string, unknown>,
  generate: () => SoftLabels,
): CachedSoftLabels {
  let reason = "missing";
  if (existsSync(path)) {
    try {
      const { labels, meta } = loadSoftLabels(path);
      if (softLabelsFingerprint(meta) === softLabelsFingerprint(expectedMeta)) {
        return { labels, meta, cached: true };
      }
      reason = "stale";
    } catch (err) {
      if (!(err instanceof SoftLabelFileError)) throw err;
      reason = err.message;
    }
  }
  const labels = generate();
  saveSoftLabels(path, labels, expectedMeta);
  return { labels, meta: expectedMeta, cached: false, reason };
}
