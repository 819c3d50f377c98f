/**
 * The web form of a dot-product student (src/browser/format.ts): the manifest and the float32 tables
 * the browser entry loads over fetch.
 */
import type { IdMap } from "../data/idmap.js";
import { Embedding } from "../engine/nn.js";
import { isDotProduct } from "../models/dot-product.js";
import { isSequenceModel } from "../models/sequence.js";
import type { Recommender } from "../models/recommender.js";
import { TwoTower } from "../models/two-tower.js";
import { WEB_FORMAT, WEB_VERSION, type WebModelManifest, type WebTable } from "../browser/format.js";
import { OnnxExportError, tableOf } from "./onnx-export.js";

/** The manifest (model.json) and tables (tables.bin) of a student's web form. */
export interface WebStudent {
  manifest: WebModelManifest;
  tables: Uint8Array;
}

/** The web form of a BPR-MF or two-tower student. */
export function exportWeb(model: Recommender, ids: { users: IdMap; items: IdMap }, id?: string): WebStudent {
  if (!isDotProduct(model)) {
    throw new OnnxExportError(
      `the web form covers dot-product students (bpr-mf, two-tower); "${model.kind}" is not one`,
    );
  }
  if (isSequenceModel(model)) {
    throw new OnnxExportError(
      `the web form covers bpr-mf and two-tower students; "${model.kind}" is a sequence model: export it with --format onnx`,
    );
  }
  model.eval();
  const dim = model.dim;
  const rows = model.numUsers + 1;
  const parts: [string, Float32Array, number, number][] = [["items", model.itemVectorTable(), model.numItems, dim]];
  const manifest: WebModelManifest = {
    format: WEB_FORMAT,
    version: WEB_VERSION,
    kind: model.kind,
    ...(id ? { id } : {}),
    dim,
    numUsers: model.numUsers,
    numItems: model.numItems,
    maxHistory: model.historyLength,
    pooling: "none",
    userFields: ["id"],
    mlp: [],
    users: ids.users.toJSON(),
    items: ids.items.toJSON(),
    histories: [],
    tables: {},
    bytes: 0,
  };
  if (!(model instanceof TwoTower)) {
    parts.push(["userId", tableOf(rows, dim, (u) => model.userVectors(u).data), rows, dim]);
  } else {
    manifest.pooling = model.pooling;
    manifest.userFields = [
      ...(model.userEmbedding ? ["id" as const] : []),
      "history",
      ...Array.from({ length: model.userFeatures?.fieldCount ?? 0 }, () => "feature" as const),
    ];
    if (model.userEmbedding) {
      const table = model.userEmbedding;
      parts.push(["userId", tableOf(rows, dim, (u) => table.forward(u).data), rows, dim]);
    }
    if (model.userFeatures) {
      const encoder = model.userFeatures;
      const width = encoder.fieldCount * dim;
      const fields = tableOf(rows, width, (u) => {
        const out = new Float32Array(u.length * width);
        encoder.forward(u.values).forEach((t, f) => {
          for (let r = 0; r < u.length; r++) out.set(t.data.subarray(r * dim, (r + 1) * dim), r * width + f * dim);
        });
        return out;
      });
      parts.push(["userFeatures", fields, rows, width]);
    }
    const history = model.historyEmbedding ?? model.itemEmbedding;
    const historyRows =
      history instanceof Embedding
        ? history.weight.data.slice()
        : tableOf(model.numItems, dim, (i) => history.forward(i).data);
    parts.push(["history", historyRows, model.numItems, dim]);
    if (model.attention) parts.push(["query", model.attention.query.data.slice(), 1, dim]);
    [...(model.userMlp?.layers ?? [])].forEach((layer, k) => {
      const [out, inp] = layer.weight.shape as [number, number];
      manifest.mlp.push({ in: inp, out, bias: layer.bias !== null });
      parts.push([`mlp.${k}.weight`, layer.weight.data.slice(), out, inp]);
      if (layer.bias) parts.push([`mlp.${k}.bias`, layer.bias.data.slice(), 1, out]);
    });
    const histories = model.context.histories;
    if (histories) {
      manifest.histories = Array.from({ length: model.numUsers }, (_, u) => {
        const end = histories.offsets[u + 1]!;
        return Array.from(histories.items.subarray(Math.max(histories.offsets[u]!, end - model.maxHistory), end));
      });
    }
  }
  // 64-byte aligned tables: each can be copied into the kernels' memory as one aligned block.
  let offset = 0;
  const placed: [Float32Array, number][] = [];
  for (const [name, data, r, c] of parts) {
    const table: WebTable = { offset, rows: r, cols: c };
    manifest.tables[name] = table;
    placed.push([data, offset]);
    offset += Math.ceil(data.byteLength / 64) * 64;
  }
  const bytes = new Uint8Array(offset);
  for (const [data, at] of placed) bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
  manifest.bytes = offset;
  return { manifest, tables: bytes };
}
