/**
 * ONNX export of dot-product students (docs/INTEROP.md). A student is served as two halves — a user
 * encoder (user id, recent items → vector) and an item table — so three graphs are written:
 *
 *   FILE            user [B] (+ history [B, H]) → user_vector [B, dim], scores [B, numItems]
 *   FILE.user.onnx  user [B] (+ history [B, H]) → user_vector [B, dim]
 *   FILE.items.onnx item [N] → item_vector [N, dim]
 *
 * (a SASRec's user side reads `history` [B, H] alone: its user is the sequence of their recent items) and
 * FILE.ids.json beside them (external ids of the dense indices, the unknown user, the users' recent
 * items). Whatever depends only on an id — the item tower with its side features, a user's id embedding
 * and features, QR/hashed tables — is precomputed into tables, so the graphs stay small and exact; what
 * depends on the live history (pooling and the user MLP, SASRec's transformer blocks) is expressed in ONNX
 * operators.
 */
import { Ids } from "../engine/ops/embedding.js";
import { endStep, noGrad } from "../engine/tensor.js";
import type { IdMap } from "../data/idmap.js";
import { Embedding } from "../engine/nn.js";
import { unknownUser } from "../models/context.js";
import { isDotProduct, type DotProductModel } from "../models/dot-product.js";
import type { Recommender } from "../models/recommender.js";
import { BPRMF } from "../models/bpr-mf.js";
import { SASRec } from "../models/sasrec.js";
import { TwoTower } from "../models/two-tower.js";
import { GraphBuilder, type OnnxPrecision, type OnnxValue } from "./onnx-graph.js";
import { emitSequenceEncoder, sequenceInputs } from "./onnx-sasrec.js";

/** The student kinds the export covers. */
export const ONNX_STUDENT_KINDS = ["bpr-mf", "two-tower", "sasrec"] as const;

export class OnnxExportError extends Error {
  override name = "OnnxExportError";
}

/** The three encoded graphs of a student and the JSON written beside them. */
export interface OnnxStudent {
  /** user (+ history) → user_vector, scores. */
  scores: Uint8Array;
  /** user (+ history) → user_vector. */
  user: Uint8Array;
  /** item → item_vector. */
  items: Uint8Array;
  /** FILE.ids.json. */
  ids: OnnxIdsFile;
}

/** FILE.ids.json: what a caller needs to build the graphs' inputs. */
export interface OnnxIdsFile {
  format: "distillrec-onnx-ids";
  kind: string;
  precision: OnnxPrecision;
  dim: number;
  /** External user ids, index = the `user` input's value. */
  users: string[];
  /** External item ids, index = the item's column in `scores` and the `item` input's value. */
  items: string[];
  /** The `user` value of a user the model never saw (its history alone speaks for it). */
  unknownUser: number;
  /** Recent items the graph reads (0: it takes no history input). */
  maxHistory: number;
  /** Each known user's last maxHistory training items (item indices, oldest first), when the model reads history. */
  histories?: number[][];
}

const BATCH = "batch";

/** Rows of `vectors(ids)` for ids 0..rows-1, computed in chunks without a graph: [rows · width]. */
export function tableOf(rows: number, width: number, vectors: (ids: Ids) => Float32Array, chunk = 4096): Float32Array {
  const out = new Float32Array(rows * width);
  noGrad(() => {
    for (let start = 0; start < rows; start += chunk) {
      const ids = Int32Array.from({ length: Math.min(chunk, rows - start) }, (_, k) => start + k);
      out.set(vectors(new Ids(ids)), start * width);
      endStep();
    }
  });
  return out;
}

/** Concatenate row-major tables of `rows` rows column-wise. */
function concatColumns(parts: { data: Float32Array; width: number }[], rows: number): Float32Array {
  const width = parts.reduce((s, p) => s + p.width, 0);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let at = r * width;
    for (const p of parts) {
      out.set(p.data.subarray(r * p.width, (r + 1) * p.width), at);
      at += p.width;
    }
  }
  return out;
}

/** The inputs of the user side: the user id, and the recent items of history-aware models (SASRec: those alone). */
function userInputs(model: DotProductModel): OnnxValue[] {
  if (model instanceof SASRec) return sequenceInputs(model);
  const user: OnnxValue = {
    name: "user",
    type: "int64",
    shape: [BATCH],
    doc: `user index (ids.json "users"; ${unknownUser(model.context)} = unknown user)`,
  };
  if (model.historyLength === 0) return [user];
  return [
    user,
    {
      name: "history",
      type: "int64",
      shape: [BATCH, "history_length"],
      doc: `recent item indices, oldest first, right-aligned and left-padded with -1; the last ${model.historyLength} columns are read`,
    },
  ];
}

/**
 * Emit the user encoder into `g`; returns the name of user_vector [B, dim]. `itemTable` gives the graph's
 * decoded item table (SASRec embeds its history with it; made once per graph).
 */
function emitUserEncoder(g: GraphBuilder, model: DotProductModel, itemTable: () => string): string {
  const rows = model.numUsers + 1;
  const dim = model.dim;
  if (model instanceof SASRec) return emitSequenceEncoder(g, model, itemTable);
  if (model instanceof BPRMF) {
    // A plain id model (BPR-MF): its user vectors are a table.
    const table = g.table(
      "user_table",
      tableOf(rows, dim, (ids) => model.userVectors(ids).data),
      rows,
      dim,
    );
    return g.node("Gather", [table, "user"], { axis: 0 }, "user_vector");
  }
  if (!(model instanceof TwoTower)) throw unsupported(model.kind);
  const pooled = emitPooling(g, model);
  // The id-only fields of the user tower: its id embedding, then its side features.
  const idField = model.userEmbedding
    ? { data: tableOf(rows, dim, (ids) => model.userEmbedding!.forward(ids).data), width: dim }
    : null;
  const featureFields = model.userFeatures
    ? {
        data: tableOf(rows, model.userFeatures.fieldCount * dim, (ids) =>
          concatColumns(
            model.userFeatures!.forward(ids.values).map((t) => ({ data: t.data, width: dim })),
            ids.length,
          ),
        ),
        width: model.userFeatures.fieldCount * dim,
      }
    : null;
  if (!model.userMlp) {
    // Fields are summed: the id-only ones fold into one table.
    const parts = [idField, featureFields].filter((p) => p !== null);
    if (parts.length === 0) return g.node("Identity", [pooled], {}, "user_vector");
    const sum = new Float32Array(rows * dim);
    for (const p of parts) {
      for (let r = 0; r < rows; r++) {
        for (let f = 0; f < p.width / dim; f++) {
          for (let k = 0; k < dim; k++) sum[r * dim + k]! += p.data[r * p.width + f * dim + k]!;
        }
      }
    }
    const table = g.table("user_table", sum, rows, dim);
    const base = g.node("Gather", [table, "user"], { axis: 0 });
    return g.node("Add", [base, pooled], {}, "user_vector");
  }
  // Fields are concatenated in the tower's order — id, history, features — and go through the MLP.
  const fields: string[] = [];
  if (idField) fields.push(g.node("Gather", [g.table("user_id_table", idField.data, rows, dim), "user"], { axis: 0 }));
  fields.push(pooled);
  if (featureFields) {
    const table = g.table("user_feature_table", featureFields.data, rows, featureFields.width);
    fields.push(g.node("Gather", [table, "user"], { axis: 0 }));
  }
  let x = fields.length === 1 ? fields[0]! : g.node("Concat", fields, { axis: 1 });
  const layers = [...model.userMlp.layers];
  layers.forEach((layer, i) => {
    const [out, inp] = layer.weight.shape as [number, number];
    const w = g.table(`user_mlp_${i}_weight`, layer.weight.data, out, inp);
    const inputs = [x, w];
    if (layer.bias) inputs.push(g.floats(`user_mlp_${i}_bias`, layer.bias.data, [out]));
    const last = i === layers.length - 1;
    x = g.node("Gemm", inputs, { transB: 1 }, last ? "user_vector" : undefined);
    if (!last) x = g.node("Relu", [x]);
  });
  return x;
}

/** The history input pooled as the tower pools it (mean, or attention against its query): [B, dim]. */
function emitPooling(g: GraphBuilder, model: TwoTower): string {
  const dim = model.dim;
  const n = model.numItems;
  const historyTable = model.historyEmbedding ?? model.itemEmbedding;
  const rows =
    historyTable instanceof Embedding
      ? historyTable.weight.data.slice()
      : tableOf(n, dim, (ids) => historyTable.forward(ids).data);
  const table = g.table("history_table", rows, n, dim);
  // The last maxHistory columns: what lastItems keeps of a longer history.
  const recent = g.node("Slice", [
    "history",
    g.int64s("history_start", [-model.maxHistory]),
    g.int64s("history_end", [Number.MAX_SAFE_INTEGER]),
    g.int64s("history_axis", [1]),
  ]);
  const present = g.node("Greater", [recent, g.int64s("minus_one", [-1])]);
  const ids = g.node("Where", [present, recent, g.int64s("zero_id", [0])]);
  const mask = g.node("Cast", [present], { to: 1 });
  const values = g.node("Gather", [table, ids], { axis: 0 }); // [B, H, dim]
  const axis1 = g.int64s("axis_1", [1]);
  if (!model.attention) {
    const masked = g.node("Mul", [values, g.node("Unsqueeze", [mask, g.int64s("axis_last", [-1])])]);
    const sum = g.node("ReduceSum", [masked, axis1], { keepdims: 0 });
    const count = g.node("ReduceSum", [mask, axis1], { keepdims: 1 });
    // An empty history pools to zeros, as an empty bag does.
    return g.node("Div", [sum, g.node("Max", [count, g.scalar("one", 1)])]);
  }
  const query = g.floats("attention_query", model.attention.query.data, [dim, 1]);
  const logits = g.node("Squeeze", [g.node("MatMul", [values, query]), g.int64s("axis_2", [2])]);
  const scaled = g.node("Mul", [logits, g.scalar("scale", 1 / Math.sqrt(dim))]);
  // Padding gets a logit of -1e30 and, after the softmax, a weight of exactly 0 (an empty row pools to zeros).
  const penalty = g.node("Mul", [g.node("Sub", [g.scalar("one", 1), mask]), g.scalar("minus_big", -1e30)]);
  const weights = g.node("Mul", [g.node("Softmax", [g.node("Add", [scaled, penalty])], { axis: -1 }), mask]);
  const weighted = g.node("Mul", [values, g.node("Unsqueeze", [weights, g.int64s("axis_last", [-1])])]);
  return g.node("ReduceSum", [weighted, axis1], { keepdims: 0 });
}

function unsupported(kind: string): OnnxExportError {
  return new OnnxExportError(
    `ONNX export covers dot-product students (${ONNX_STUDENT_KINDS.join(", ")}); "${kind}" is not one`,
  );
}

/** The decoded item table of graph `g`, made on first use. */
function sharedTable(g: GraphBuilder, items: Float32Array, n: number, dim: number): () => string {
  let name: string | undefined;
  return () => (name ??= g.table("item_table", items, n, dim));
}

/** Export a dot-product student (BPR-MF, two-tower, SASRec) to ONNX at `precision`, with the id maps of its artefact. */
export function exportOnnx(
  model: Recommender,
  ids: { users: IdMap; items: IdMap },
  precision: OnnxPrecision = "f32",
): OnnxStudent {
  if (!isDotProduct(model) || !(model instanceof BPRMF || model instanceof TwoTower || model instanceof SASRec)) {
    throw unsupported(model.kind);
  }
  if (!["f32", "f16", "int8"].includes(precision)) {
    throw new OnnxExportError(`ONNX export: precision must be f32, f16 or int8, got "${String(precision)}"`);
  }
  model.eval();
  const dim = model.dim;
  const n = model.numItems;
  const items = model.itemVectorTable();
  const inputs = userInputs(model);
  const userVector: OnnxValue = { name: "user_vector", type: "float32", shape: [BATCH, dim], doc: "the user's vector" };
  const scoresOut: OnnxValue = {
    name: "scores",
    type: "float32",
    shape: [BATCH, n],
    doc: "⟨user_vector, item_vector⟩ for every item (column = item index)",
  };
  const metadata = { kind: model.kind, precision, dim: String(dim), maxHistory: String(model.historyLength) };
  const doc = (what: string) =>
    `distillrec ${model.kind} student (${precision}): ${what}. Inputs and outputs are documented on each value; ids in the .ids.json beside.`;

  const full = new GraphBuilder(precision);
  const fullItems = sharedTable(full, items, n, dim);
  const u = emitUserEncoder(full, model, fullItems);
  full.node("Gemm", [u, fullItems()], { transB: 1 }, "scores");
  const scores = full.encode({
    name: `${model.kind}-scores`,
    doc: doc("scores of every item for a batch of users"),
    inputs,
    outputs: [userVector, scoresOut],
    metadata,
  });

  const userGraph = new GraphBuilder(precision);
  emitUserEncoder(userGraph, model, sharedTable(userGraph, items, n, dim));
  const user = userGraph.encode({
    name: `${model.kind}-user`,
    doc: doc("the user encoder"),
    inputs,
    outputs: [userVector],
    metadata,
  });

  const itemGraph = new GraphBuilder(precision);
  itemGraph.node("Gather", [itemGraph.table("item_table", items, n, dim), "item"], { axis: 0 }, "item_vector");
  const itemsModel = itemGraph.encode({
    name: `${model.kind}-items`,
    doc: doc("the item table"),
    inputs: [{ name: "item", type: "int64", shape: [BATCH], doc: 'item index (ids.json "items")' }],
    outputs: [{ name: "item_vector", type: "float32", shape: [BATCH, dim], doc: "the item's vector" }],
    metadata,
  });

  const idsFile: OnnxIdsFile = {
    format: "distillrec-onnx-ids",
    kind: model.kind,
    precision,
    dim,
    users: ids.users.toJSON(),
    items: ids.items.toJSON(),
    unknownUser: unknownUser(model.context),
    maxHistory: model.historyLength,
  };
  const histories = model.context.histories;
  if (model.historyLength > 0 && histories) {
    idsFile.histories = Array.from({ length: model.numUsers }, (_, user) => {
      const end = histories.offsets[user + 1]!;
      const start = Math.max(histories.offsets[user]!, end - model.historyLength);
      return Array.from(histories.items.subarray(start, end));
    });
  }
  return { scores, user, items: itemsModel, ids: idsFile };
}

/** The paths of an export to FILE: FILE itself, FILE's user and item graphs and its ids (".onnx" is replaced). */
export function onnxPaths(file: string): { scores: string; user: string; items: string; ids: string } {
  const stem = file.endsWith(".onnx") ? file.slice(0, -5) : file;
  return { scores: file, user: `${stem}.user.onnx`, items: `${stem}.items.onnx`, ids: `${stem}.ids.json` };
}
