/**
 * SASRec (Kang & McAuley, ICDM'18): self-attentive sequential recommendation. A user is the sequence of
 * their last `maxLength` items: item embeddings (scaled by √dim, as the reference code does) plus learned
 * position embeddings pass through L pre-LN blocks of causal multi-head self-attention and a point-wise
 * feed-forward network, each with a residual connection and dropout; the user's state is the final
 * LayerNorm's output at the last position, and an item's score is its dot product with the item table
 * shared with the input — so SASRec is a dot-product model: it serves, evaluates and compresses like one.
 *
 * Trained per position (train/sequence.ts): every position of the sequence predicts the next item, from the
 * causal mask alone, so one forward pass trains L predictions. Choices where the paper is silent follow
 * the public reference implementations (kang205/SASRec, pmixer/SASRec.pytorch): xavier-normal weights and
 * embeddings, zero biases, LayerNorm eps 1e-8, a feed-forward width equal to the model's, ReLU; padding on
 * the left, its inputs zero and its keys masked (the references mask padded outputs but not keys).
 */
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, MultiHeadAttention } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { xavierNormal, type Rng } from "../engine/random.js";
import { Tensor } from "../engine/tensor.js";
import { recentItems, type HistoryBag, type ModelContext } from "./context.js";
import { VectorRecommender, type RetrievalPrecision } from "./dot-product.js";
import { initOptions, type PairwiseBatch } from "./recommender.js";
import type { SequenceModel } from "./sequence.js";

export interface SASRecConfig {
  /** Width of the item and position embeddings and of every block (default 50, the paper's). */
  dim?: number;
  /** Self-attention blocks (default 2). */
  blocks?: number;
  /** Attention heads per block; must divide dim (default 1). */
  heads?: number;
  /** Most recent items a user's sequence holds (default 50). */
  maxLength?: number;
  /** Hidden width of the point-wise feed-forward network (default dim). */
  ffnDim?: number;
  /** The feed-forward non-linearity: the paper's ReLU (default) or GELU (BERT4Rec's). */
  activation?: "relu" | "gelu";
  /** Dropout on the input, the attention weights, and after each sub-layer (default 0.2). */
  dropout?: number;
  /** How the scorer stores the item vectors (see TwoTower's `retrieval`). */
  retrieval?: RetrievalPrecision;
  seed?: number;
}

/** One pre-LN block: x + Dropout(MHA(LN(x))), then x + FFN(LN(x)), padded positions zeroed. */
class SASRecBlock extends Module {
  readonly attentionNorm: LayerNorm;
  readonly attention: MultiHeadAttention;
  readonly ffnNorm: LayerNorm;
  readonly ffnIn: Linear;
  readonly ffnOut: Linear;
  readonly dropout: Dropout;

  constructor(
    dim: number,
    ffnDim: number,
    heads: number,
    dropout: number,
    readonly activation: "relu" | "gelu",
    rng: Rng,
  ) {
    super();
    const xavier = (data: Float32Array, fanIn: number, fanOut: number): void => xavierNormal(rng, fanIn, fanOut)(data);
    this.attentionNorm = this.child("attentionNorm", new LayerNorm(dim, { eps: 1e-8 }));
    this.attention = this.child("attention", new MultiHeadAttention(dim, { rng, heads, dropout, init: xavier }));
    this.ffnNorm = this.child("ffnNorm", new LayerNorm(dim, { eps: 1e-8 }));
    this.ffnIn = this.child("ffnIn", xavierLinear(dim, ffnDim, rng));
    this.ffnOut = this.child("ffnOut", xavierLinear(ffnDim, dim, rng));
    this.dropout = this.child("dropout", new Dropout(dropout, rng.fork()));
  }

  /**
   * x [batch · length, dim] → [batch · queries, dim], the outputs at each sequence's last `queries` positions;
   * `mask` [batch · queries, 1] zeroes the padded ones (null: none is padded).
   */
  forward(
    x: Tensor,
    shape: { batch: number; length: number; queries: number; valid: Ids },
    mask: Tensor | null,
  ): Tensor {
    const attended = this.attention.forward(this.attentionNorm.forward(x), shape);
    x = ops.add(ops.lastPositions(x, shape.batch, shape.length, shape.queries), this.dropout.forward(attended));
    const hidden = this.dropout.forward(nonLinear(this.ffnIn.forward(this.ffnNorm.forward(x)), this.activation));
    x = ops.add(x, this.dropout.forward(this.ffnOut.forward(hidden)));
    return mask ? ops.mul(x, mask) : x;
  }
}

function xavierLinear(inFeatures: number, outFeatures: number, rng: Rng): Linear {
  const layer = new Linear(inFeatures, outFeatures, { rng });
  xavierNormal(rng, inFeatures, outFeatures)(layer.weight.data);
  layer.bias!.data.fill(0);
  return layer;
}

function nonLinear(x: Tensor, activation: "relu" | "gelu"): Tensor {
  return activation === "gelu" ? ops.gelu(x) : ops.relu(x);
}

export class SASRec extends VectorRecommender implements SequenceModel {
  readonly kind = "sasrec";
  readonly sequential = true;
  readonly dim: number;
  readonly maxLength: number;
  readonly retrieval: RetrievalPrecision;
  readonly itemEmbedding: Embedding;
  readonly positionEmbedding: Embedding;
  readonly inputDropout: Dropout;
  readonly blocks: ModuleList<SASRecBlock>;
  readonly finalNorm: LayerNorm;

  constructor(
    readonly config: SASRecConfig,
    context: ModelContext,
  ) {
    super(context);
    const dim = (this.dim = config.dim ?? 50);
    this.maxLength = config.maxLength ?? 50;
    const blocks = config.blocks ?? 2;
    const heads = config.heads ?? 1;
    const ffnDim = config.ffnDim ?? dim;
    const dropout = config.dropout ?? 0.2;
    const activation = config.activation ?? "relu";
    this.retrieval = config.retrieval ?? "f32";
    for (const [name, value] of [
      ["dim", dim],
      ["blocks", blocks],
      ["heads", heads],
      ["maxLength", this.maxLength],
      ["ffnDim", ffnDim],
    ] as const) {
      if (!(Number.isInteger(value) && value >= 1))
        throw new RangeError(`SASRec: ${name} must be a positive integer, got ${value}`);
    }
    if (dim % heads !== 0) throw new RangeError(`SASRec: ${heads} heads do not divide dim ${dim}`);
    if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`SASRec: dropout must be in [0, 1), got ${dropout}`);
    if (activation !== "relu" && activation !== "gelu") {
      throw new RangeError(`SASRec: activation must be "relu" or "gelu", got "${String(activation)}"`);
    }
    if (this.retrieval !== "f32" && this.retrieval !== "int8") {
      throw new RangeError(`SASRec: retrieval must be "f32" or "int8", got "${String(this.retrieval)}"`);
    }
    const { rng } = initOptions(config);
    this.itemEmbedding = this.child("item", new Embedding(context.numItems, dim, { rng, std: 0 }));
    xavierNormal(rng, dim, context.numItems)(this.itemEmbedding.weight.data);
    this.positionEmbedding = this.child("position", new Embedding(this.maxLength, dim, { rng, std: 0, sparse: false }));
    xavierNormal(rng, dim, this.maxLength)(this.positionEmbedding.weight.data);
    this.inputDropout = this.child("inputDropout", new Dropout(dropout, rng.fork()));
    this.blocks = this.child("blocks", new ModuleList<SASRecBlock>());
    for (let b = 0; b < blocks; b++) this.blocks.push(new SASRecBlock(dim, ffnDim, heads, dropout, activation, rng));
    this.finalNorm = this.child("finalNorm", new LayerNorm(dim, { eps: 1e-8 }));
  }

  /**
   * The states of `batch` sequences of one length ≤ maxLength (row-major, −1 for padding, real items last) at
   * each one's last `queries` positions (default all): [batch · queries, dim]. Position t of a sequence of
   * length ℓ gets row maxLength − ℓ + t of the position table, so cutting leading padding changes nothing;
   * the last block computes only the asked positions (every earlier one still feeds its keys and values).
   */
  sequenceStates(items: Int32Array, batch: number, queries?: number): Tensor {
    const length = batch > 0 ? items.length / batch : this.maxLength;
    if (!(Number.isInteger(length) && length >= 1 && length <= this.maxLength)) {
      throw new RangeError(
        `SASRec: ${items.length} sequence items are not ${batch} sequences of one length up to ${this.maxLength}`,
      );
    }
    const asked = queries ?? length;
    if (!(Number.isInteger(asked) && asked >= 1 && asked <= length)) {
      throw new RangeError(`SASRec: queries must be an integer in 1..${length}, got ${asked}`);
    }
    const rows = batch * length;
    const validValues = new Int32Array(rows);
    const ids = new Int32Array(rows);
    const maskValues = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const item = items[r]!;
      if (item >= 0) {
        validValues[r] = 1;
        ids[r] = item;
        maskValues[r] = 1;
      }
    }
    const valid = new Ids(validValues);
    // A window without padding (a user state, cut to its history) needs no mask.
    const mask = validValues.includes(0) ? Tensor.from(maskValues, [rows, 1]) : null;
    const embedded = ops.scale(ops.embedding(this.itemEmbedding.weight, ids), Math.sqrt(this.dim));
    const positions =
      length === this.maxLength
        ? this.positionEmbedding.weight
        : ops.embedding(
            this.positionEmbedding.weight,
            Int32Array.from({ length }, (_, t) => this.maxLength - length + t),
          );
    let x = ops.add(embedded.reshape([batch, length, this.dim]), positions).reshape([rows, this.dim]);
    x = this.inputDropout.forward(x);
    if (mask) x = ops.mul(x, mask);
    let remaining = this.blocks.length;
    for (const block of this.blocks) {
      const outputs = --remaining === 0 ? asked : length;
      const outputMask = mask && ops.lastPositions(mask, batch, length, outputs);
      x = block.forward(x, { batch, length, queries: outputs, valid }, outputMask);
    }
    return this.finalNorm.forward(x);
  }

  /**
   * Each bag's last maxLength items as one left-padded sequence, all as long as the longest (at least one
   * position): [bags · length], −1 for padding.
   */
  private sequencesOf(bag: HistoryBag): { items: Int32Array; length: number } {
    const n = bag.offsets.length;
    const end = (b: number): number => (b + 1 < n ? bag.offsets[b + 1]! : bag.ids.length);
    let length = 1;
    for (let b = 0; b < n; b++) length = Math.max(length, Math.min(this.maxLength, end(b) - bag.offsets[b]!));
    const items = new Int32Array(n * length).fill(-1);
    for (let b = 0; b < n; b++) {
      const from = Math.max(bag.offsets[b]!, end(b) - length);
      items.set(bag.ids.subarray(from, end(b)), b * length + length - (end(b) - from));
    }
    return { items, length };
  }

  /** The state at each sequence's last position: [users, dim] (sequences from `history` or the context's histories). */
  userVectors(users: Ids, history?: HistoryBag, historyEnd?: Int32Array): Tensor {
    const bag = recentItems(this.context, users.values, this.maxLength, history, historyEnd);
    return this.sequenceStates(this.sequencesOf(bag).items, users.length, 1);
  }

  itemVectors(items: Ids): Tensor {
    return ops.embedding(this.itemEmbedding.weight, items);
  }

  /** BPR on (user, positive, negative) triples with each user's sequence encoded once. */
  override loss(batch: PairwiseBatch): Tensor {
    const u = this.userVectors(new Ids(batch.users), undefined, batch.historyEnd);
    const pos = ops.rowDot(u, this.itemVectors(new Ids(batch.positives)));
    const neg = ops.rowDot(u, this.itemVectors(new Ids(batch.negatives)));
    return ops.bprLoss(pos, neg);
  }

  override get historyLength(): number {
    return this.maxLength;
  }
}
