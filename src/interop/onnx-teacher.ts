/**
 * A teacher from another engine (docs/INTEROP.md): an ONNX model that scores (user, item) pairs, run
 * through onnxruntime-node over every (user, item) of the data set in large batches and kept as a
 * ScoreTable — so soft labels, every list and pointwise method, chains and fidelity metrics read it as a
 * native teacher. Its ids are the model's own: an id map says which model index each of this data set's
 * users and items is.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as ort from "onnxruntime-node";
import type { IdMap } from "../data/idmap.js";
import type { ModelContext } from "../models/context.js";
import { ScoreTable } from "../models/score-table.js";

/** A pipeline teacher that is an ONNX file (PipelineConfig.teachers[].onnx). */
export interface OnnxTeacherSpec {
  /** The .onnx file (relative paths: to the config's directory, when loaded from a file). */
  file: string;
  /** The model's input names: user ids and item ids (1-D, one entry per pair), optionally recent items [pairs, length]. */
  inputs: { user: string; item: string; history?: string };
  /** The output holding one score (logit) per pair: [pairs] or [pairs, 1]. */
  output: string;
  /**
   * JSON mapping this data set's ids to the model's indices: {"users": …, "items": …}, each either an
   * object {"<data id>": index} or an array whose position k holds the data id of model index k (a vocabulary).
   */
  idMap: string;
  /** Recent items fed to the history input (default 20), left-padded with `historyPad`. */
  historyLength?: number;
  /** The model index of "no item" in the history input (default 0). */
  historyPad?: number;
  /** Pairs per run (default 262144). */
  batchSize?: number;
}

export class OnnxTeacherError extends Error {
  override name = "OnnxTeacherError";
}

/** How this data set's dense indices map to the model's: model index per data index. */
export interface TeacherIdMap {
  users: Int32Array;
  items: Int32Array;
}

type Mapping = Record<string, number> | string[];

function readMapping(file: string, field: "users" | "items", raw: unknown): Map<string, number> {
  const value = (raw as Record<string, unknown> | null)?.[field];
  if (Array.isArray(value)) return new Map(value.map((id, k) => [String(id), k]));
  if (value && typeof value === "object") {
    const out = new Map<string, number>();
    for (const [id, index] of Object.entries(value as Record<string, unknown>)) {
      if (!Number.isInteger(index) || (index as number) < 0) {
        throw new OnnxTeacherError(
          `${file}: ${field}["${id}"] must be a non-negative integer, got ${JSON.stringify(index)}`,
        );
      }
      out.set(id, index as number);
    }
    return out;
  }
  throw new OnnxTeacherError(`${file}: needs "${field}": an object {"<data id>": model index} or an array of data ids`);
}

/** The model index of every data user and item; refuses a map that misses any, saying how many. */
export function resolveIdMap(file: string, raw: unknown, data: { users: IdMap; items: IdMap }): TeacherIdMap {
  const resolveField = (field: "users" | "items", ids: IdMap): Int32Array => {
    const map = readMapping(file, field, raw);
    const out = new Int32Array(ids.size);
    const missing: string[] = [];
    for (let k = 0; k < ids.size; k++) {
      const index = map.get(ids.external(k));
      if (index === undefined) missing.push(ids.external(k));
      else out[k] = index;
    }
    if (missing.length) {
      const examples = missing
        .slice(0, 5)
        .map((id) => `"${id}"`)
        .join(", ");
      throw new OnnxTeacherError(
        `${file}: the id map does not cover the data: ${missing.length} of ${ids.size} ${field} are missing (e.g. ${examples})`,
      );
    }
    return out;
  };
  return { users: resolveField("users", data.users), items: resolveField("items", data.items) };
}

/** Read the id map file and resolve it against the data. */
export function loadIdMap(path: string, data: { users: IdMap; items: IdMap }): TeacherIdMap {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8")) as Mapping;
  } catch (err) {
    throw new OnnxTeacherError(`${path}: cannot read the id map: ${(err as Error).message.split("\n")[0]}`);
  }
  return resolveIdMap(path, raw, data);
}

/** The names a spec expects, checked against the session: a mismatch names what the file has. */
function checkNames(file: string, session: ort.InferenceSession, spec: OnnxTeacherSpec): void {
  const wanted = [spec.inputs.user, spec.inputs.item, ...(spec.inputs.history ? [spec.inputs.history] : [])];
  const missingIn = wanted.filter((n) => !session.inputNames.includes(n));
  const extra = session.inputNames.filter((n) => !wanted.includes(n));
  if (missingIn.length || extra.length) {
    throw new OnnxTeacherError(
      `${file}: the config's inputs (${wanted.join(", ")}) do not match the model's: it has inputs ${session.inputNames.join(", ")}` +
        (missingIn.length ? `; no input named ${missingIn.join(", ")}` : "") +
        (extra.length ? `; input ${extra.join(", ")} is not fed by the config` : ""),
    );
  }
  if (!session.outputNames.includes(spec.output)) {
    throw new OnnxTeacherError(
      `${file}: the model has no output "${spec.output}": it has outputs ${session.outputNames.join(", ")}`,
    );
  }
}

/** The element type the model wants for an id input (int64 unless it says int32). */
function idType(session: ort.InferenceSession, name: string): "int64" | "int32" {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor && meta.type === "int32" ? "int32" : "int64";
}

function idTensor(type: "int64" | "int32", values: Int32Array, dims: number[]): ort.Tensor {
  return type === "int32"
    ? new ort.Tensor("int32", values, dims)
    : new ort.Tensor(
        "int64",
        BigInt64Array.from(values, (v) => BigInt(v)),
        dims,
      );
}

/** What loadOnnxTeacher needs of the prepared data. */
export interface OnnxTeacherData {
  context: ModelContext;
  users: IdMap;
  items: IdMap;
}

/**
 * Score every (user, item) of the data set with the ONNX model into a ScoreTable; the unknown user's row
 * is the mean over users. Relative paths in `spec` resolve against `baseDir` (default the working directory).
 */
export async function loadOnnxTeacher(
  spec: OnnxTeacherSpec,
  data: OnnxTeacherData,
  options: { baseDir?: string } = {},
): Promise<ScoreTable> {
  const base = options.baseDir ?? process.cwd();
  const file = resolve(base, spec.file);
  const ids = loadIdMap(resolve(base, spec.idMap), data);
  const { context } = data;
  const numUsers = context.numUsers;
  const numItems = context.numItems;
  const cells = (numUsers + 1) * numItems;
  if (cells > 2 ** 28) {
    throw new OnnxTeacherError(
      `${file}: ${numUsers} users × ${numItems} items is too many scores to keep for an ONNX teacher (at most 2^28)`,
    );
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file);
  } catch (err) {
    throw new OnnxTeacherError(`${file}: cannot load the ONNX model: ${(err as Error).message.split("\n")[0]}`);
  }
  try {
    checkNames(file, session, spec);
    const userType = idType(session, spec.inputs.user);
    const itemType = idType(session, spec.inputs.item);
    const historyLength = spec.historyLength ?? 20;
    const pad = spec.historyPad ?? 0;
    const usersPerRun = Math.max(1, Math.floor((spec.batchSize ?? 262144) / numItems));
    const model = new ScoreTable({ source: spec.file }, context);
    const table = model.scores.data;
    const itemIds = ids.items;
    for (let start = 0; start < numUsers; start += usersPerRun) {
      const count = Math.min(usersPerRun, numUsers - start);
      const n = count * numItems;
      const users = new Int32Array(n);
      const items = new Int32Array(n);
      for (let b = 0; b < count; b++) {
        users.fill(ids.users[start + b]!, b * numItems, (b + 1) * numItems);
        items.set(itemIds, b * numItems);
      }
      const feeds: Record<string, ort.Tensor> = {
        [spec.inputs.user]: idTensor(userType, users, [n]),
        [spec.inputs.item]: idTensor(itemType, items, [n]),
      };
      if (spec.inputs.history) {
        const history = new Int32Array(n * historyLength).fill(pad);
        for (let b = 0; b < count; b++) {
          const recent = recentOf(context, start + b, historyLength);
          const row = new Int32Array(historyLength).fill(pad);
          recent.forEach((item, j) => (row[historyLength - recent.length + j] = itemIds[item]!));
          for (let i = 0; i < numItems; i++) history.set(row, (b * numItems + i) * historyLength);
        }
        feeds[spec.inputs.history] = idTensor(idType(session, spec.inputs.history), history, [n, historyLength]);
      }
      const out = (await session.run(feeds))[spec.output]!;
      if (out.size !== n || out.type !== "float32") {
        throw new OnnxTeacherError(
          `${file}: output "${spec.output}" must hold one float32 score per pair: got ${out.type} [${out.dims.join(", ")}] for ${n} pairs`,
        );
      }
      table.set(out.data as Float32Array, start * numItems);
    }
    // The unknown user: the mean user's scores (the model has no row for a user it never saw).
    const unknown = numUsers * numItems;
    for (let u = 0; u < numUsers; u++) {
      for (let i = 0; i < numItems; i++) table[unknown + i]! += table[u * numItems + i]! / numUsers;
    }
    for (const v of table) {
      if (!Number.isFinite(v)) throw new OnnxTeacherError(`${file}: the model scored a pair ${v}`);
    }
    return model;
  } finally {
    await session.release();
  }
}

/** A user's last `length` training items (data indices, oldest first). */
function recentOf(context: ModelContext, user: number, length: number): Int32Array {
  const h = context.histories;
  if (!h) return new Int32Array(0);
  const end = h.offsets[user + 1]!;
  return h.items.subarray(Math.max(h.offsets[user]!, end - length), end);
}
