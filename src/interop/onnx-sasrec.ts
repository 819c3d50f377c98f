/**
 * The user encoder of a SASRec student in ONNX operators (docs/INTEROP.md): its input is `history`, the
 * user's recent item indices [batch, any width], oldest first, right-aligned and left-padded with -1; the
 * graph left-pads or cuts it to the model's window of maxLength, embeds it (item row · √dim + position row,
 * padding zeroed), runs the pre-LN blocks — causal multi-head self-attention under a key-padding mask, the
 * point-wise feed-forward network, residuals, padded rows zeroed after each block — and returns the final
 * LayerNorm of the last position: user_vector [batch, dim], exactly SASRec.userVectors.
 *
 * Weight matrices (item and position tables, the projections, the feed-forward layers) go through
 * GraphBuilder.table, so they are stored at the export's precision; biases, LayerNorm gains and shifts and
 * the masks stay float32, as the two-tower's biases and attention query do.
 */
import type { Linear } from "../engine/nn.js";
import type { SASRec } from "../models/sasrec.js";
import type { GraphBuilder, OnnxValue } from "./onnx-graph.js";

/** A logit this negative gets a softmax weight of exactly 0 beside any real one (and −∞ would make a fully masked row NaN). */
const MASKED = -1e30;

/** The sequence encoder's one input. */
export function sequenceInputs(model: SASRec): OnnxValue[] {
  return [
    {
      name: "history",
      type: "int64",
      shape: ["batch", "history_length"],
      doc:
        `recent item indices (ids.json "items"), oldest first, right-aligned and left-padded with -1 (any width, ` +
        `also 0); the last ${model.maxLength} columns are read, a shorter row is padded`,
    },
  ];
}

/** x [rows, in] · Wᵀ + b for a Linear layer, W stored at the graph's precision. */
function linear(g: GraphBuilder, x: string, layer: Linear, name: string): string {
  const [out, inp] = layer.weight.shape as [number, number];
  const inputs = [x, g.table(`${name}_weight`, layer.weight.data, out, inp)];
  if (layer.bias) inputs.push(g.floats(`${name}_bias`, layer.bias.data, [out]));
  return g.node("Gemm", inputs, { transB: 1 });
}

function layerNorm(g: GraphBuilder, x: string, norm: SASRec["finalNorm"], name: string, output?: string): string {
  const gamma = g.floats(`${name}_gamma`, norm.weight.data, [norm.dim]);
  const beta = g.floats(`${name}_beta`, norm.bias.data, [norm.dim]);
  return g.node("LayerNormalization", [x, gamma, beta], { axis: -1, epsilon: norm.eps }, output);
}

/** GELU, tanh approximation, as the kernel computes it: x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³))). */
function gelu(g: GraphBuilder, x: string): string {
  const cube = g.node("Mul", [g.node("Mul", [x, x]), x]);
  const inner = g.node("Add", [x, g.node("Mul", [cube, g.scalar("gelu_c", 0.044715)])]);
  const t = g.node("Tanh", [g.node("Mul", [inner, g.scalar("gelu_k", Math.sqrt(2 / Math.PI))])]);
  const half = g.node("Mul", [x, g.scalar("half", 0.5)]);
  return g.node("Mul", [half, g.node("Add", [t, g.scalar("one", 1)])]);
}

/**
 * Emit the SASRec user encoder into `g`, reading the graph input `history`; `itemTable` gives the (shared)
 * decoded item table [numItems, dim]. Returns the name of user_vector [B, dim].
 */
export function emitSequenceEncoder(g: GraphBuilder, model: SASRec, itemTable: () => string): string {
  const L = model.maxLength;
  const dim = model.dim;
  const heads = model.blocks.at(0).attention.heads;
  const headDim = dim / heads;

  // The window: -1 columns in front, then the last L columns.
  const batch = g.node("Shape", ["history"], { start: 0, end: 1 });
  const padShape = g.node("Concat", [batch, g.int64s("window_length", [L])], { axis: 0 });
  const padding = g.node("Expand", [g.int64s("padding", new Array<number>(L).fill(-1)), padShape]);
  const padded = g.node("Concat", [padding, "history"], { axis: 1 });
  const window = g.node("Slice", [
    padded,
    g.int64s("window_start", [-L]),
    g.int64s("window_end", [Number.MAX_SAFE_INTEGER]),
    g.int64s("window_axis", [1]),
  ]); // [B, L]
  const present = g.node("Greater", [window, g.int64s("minus_one", [-1])]);
  const ids = g.node("Where", [present, window, g.int64s("zero_id", [0])]);
  const mask = g.node("Cast", [present], { to: 1 }); // [B, L] float, 1 = an item
  const rowMask = g.node("Reshape", [mask, g.int64s("rows_1", [-1, 1])]); // [B·L, 1]

  // Item row · √dim + position row, padding zeroed: [B·L, dim].
  const embedded = g.node("Mul", [
    g.node("Gather", [itemTable(), ids], { axis: 0 }),
    g.scalar("sqrt_dim", Math.sqrt(dim)),
  ]);
  const positions = g.table("position_table", model.positionEmbedding.weight.data, L, dim);
  const rowsDim = g.int64s("rows_dim", [-1, dim]);
  let x = g.node("Mul", [g.node("Reshape", [g.node("Add", [embedded, positions]), rowsDim]), rowMask]);

  // Attention logits' mask [B, 1, L, L]: a later position (causal) or a padded key gets MASKED.
  const causal = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) causal[i * L + j] = MASKED;
  const keyPenalty = g.node("Unsqueeze", [
    g.node("Mul", [g.node("Sub", [g.scalar("one", 1), mask]), g.scalar("masked", MASKED)]),
    g.int64s("axes_1_2", [1, 2]),
  ]);
  const logitMask = g.node("Add", [g.floats("causal_mask", causal, [L, L]), keyPenalty]);
  const splitHeads = g.int64s("split_heads", [-1, L, heads, headDim]);
  const heads4 = (t: string, perm: number[]) => g.node("Transpose", [g.node("Reshape", [t, splitHeads])], { perm });

  let b = 0;
  for (const block of model.blocks) {
    const p = `block_${b++}`;
    const att = block.attention;
    const h = layerNorm(g, x, block.attentionNorm, `${p}_attention_norm`);
    const q = heads4(linear(g, h, att.query, `${p}_query`), [0, 2, 1, 3]); // [B, H, L, hd]
    const kT = heads4(linear(g, h, att.key, `${p}_key`), [0, 2, 3, 1]); // [B, H, hd, L]
    const v = heads4(linear(g, h, att.value, `${p}_value`), [0, 2, 1, 3]);
    const logits = g.node("Add", [
      g.node("Mul", [g.node("MatMul", [q, kT]), g.scalar(`${p}_scale`, 1 / Math.sqrt(headDim))]),
      logitMask,
    ]);
    const weights = g.node("Softmax", [logits], { axis: -1 });
    const merged = g.node("Reshape", [
      g.node("Transpose", [g.node("MatMul", [weights, v])], { perm: [0, 2, 1, 3] }),
      rowsDim,
    ]);
    // A padded query attends to nothing: its row is zero before the output projection, as the kernel's.
    const attended = linear(g, g.node("Mul", [merged, rowMask]), att.output, `${p}_output`);
    x = g.node("Add", [x, attended]);
    let hidden = linear(g, layerNorm(g, x, block.ffnNorm, `${p}_ffn_norm`), block.ffnIn, `${p}_ffn_in`);
    hidden = block.activation === "gelu" ? gelu(g, hidden) : g.node("Relu", [hidden]);
    x = g.node("Add", [x, linear(g, hidden, block.ffnOut, `${p}_ffn_out`)]);
    x = g.node("Mul", [x, rowMask]);
  }

  // The last position's state, normalised (LayerNorm is per row: normalising it alone is the same).
  const last = g.node("Slice", [
    g.node("Reshape", [x, g.int64s("sequence_dim", [-1, L, dim])]),
    g.int64s("last_start", [L - 1]),
    g.int64s("last_end", [L]),
    g.int64s("last_axis", [1]),
  ]);
  return layerNorm(g, g.node("Reshape", [last, rowsDim]), model.finalNorm, "final_norm", "user_vector");
}
