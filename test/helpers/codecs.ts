// Error bounds of the weight codecs, shared by the ONNX export tests.
import type { OnnxPrecision } from "../../src/interop/onnx-graph.js";

/** Per-value bound of a table's codec error: f16 rounds to 11 significant bits, int8 to half its row's scale. */
export function codecError(precision: OnnxPrecision, row: Float32Array): Float32Array {
  if (precision === "f16") return row.map((v) => Math.abs(v) * 2 ** -11 + 2 ** -25);
  const scale = row.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
  return row.map(() => scale / 2 + 1e-7);
}
