/**
 * Neural-network modules in the style of torch.nn. A module registers its parameters and sub-modules
 * in its constructor, in a fixed order: parameters are allocated eagerly and deterministically, so a
 * worker thread that rebuilds the same module over shared memory (Runtime.replayAllocations) gets the
 * same tensors, and the dotted names ("mlp.layers.0.weight") are stable for optimisers and files.
 */
import * as ops from "./ops/index.js";
import type { BagMode } from "./ops/bags.js";
import type { AttentionOptions } from "./ops/transformer.js";
import type { Ids } from "./ops/embedding.js";
import { kaimingUniform, normalInit, uniformInit, type Rng } from "./random.js";
import { Tensor, type Shape } from "./tensor.js";

/** A module whose forward maps one tensor to one tensor (what Sequential chains). */
export interface Layer {
  forward(x: Tensor): Tensor;
}

/** Base class: parameter and sub-module registration, train/eval mode, sizes. */
export abstract class Module {
  /** Training mode (dropout active); switch with train() / eval(). */
  training = true;
  /** Dotted path of this module inside its root ("" for the root); prefixes parameter names. */
  private path = "";
  private readonly ownParameters: [string, Tensor][] = [];
  private readonly ownChildren: [string, Module][] = [];

  /** Register a parameter under `name`, naming the tensor by its full dotted path. */
  protected param(name: string, tensor: Tensor): Tensor {
    this.checkName(name);
    tensor.name = joinPath(this.path, name);
    this.ownParameters.push([name, tensor]);
    return tensor;
  }

  /** Allocate and register a trainable parameter. */
  protected newParam(name: string, shape: Shape, init: (data: Float32Array) => void): Tensor {
    return this.param(name, Tensor.parameter(shape, init));
  }

  /** Register a sub-module under `name`; its parameters are renamed under this module's path. */
  protected child<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.ownChildren.push([name, module]);
    module.setPath(joinPath(this.path, name));
    return module;
  }

  /** Direct sub-modules with their names, in registration order. */
  namedChildren(): [string, Module][] {
    return this.ownChildren.map(([n, m]) => [n, m]);
  }

  /** Direct sub-modules, in registration order. */
  children(): Module[] {
    return this.ownChildren.map(([, m]) => m);
  }

  /** Every parameter with its dotted name relative to this module: own parameters first, then each child's. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const visit = (module: Module, prefix: string): void => {
      for (const [name, t] of module.ownParameters) {
        if (seen.has(t)) continue; // a module shared in two places contributes its tensors once
        seen.add(t);
        out.push([joinPath(prefix, name), t]);
      }
      for (const [name, m] of module.ownChildren) visit(m, joinPath(prefix, name));
    };
    visit(this, "");
    return out;
  }

  /** Every parameter, in namedParameters() order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Set training mode on this module and every sub-module. */
  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.ownChildren) m.train(mode);
    return this;
  }

  /** Switch to evaluation mode (dropout becomes the identity). */
  eval(): this {
    return this.train(false);
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Bytes taken by the parameters (float32). */
  parameterBytes(): number {
    return this.parameterCount() * 4;
  }

  private setPath(path: string): void {
    this.path = path;
    for (const [name, t] of this.ownParameters) t.name = joinPath(path, name);
    for (const [name, m] of this.ownChildren) m.setPath(joinPath(path, name));
  }

  private checkName(name: string): void {
    if (name === "" || name.includes(".")) {
      throw new RangeError(`${this.constructor.name}: "${name}" is not a valid name (non-empty, no dots)`);
    }
    if (this.ownParameters.some(([n]) => n === name) || this.ownChildren.some(([n]) => n === name)) {
      throw new RangeError(`${this.constructor.name}: "${name}" is already registered`);
    }
  }
}

function joinPath(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

/** An indexable list of sub-modules, named "0", "1", … */
export class ModuleList<M extends Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Append a module (registered under its index). */
  push(module: M): M {
    this.items.push(this.child(String(this.items.length), module));
    return module;
  }

  at(index: number): M {
    const m = this.items[index];
    if (m === undefined) throw new RangeError(`ModuleList: index ${index} outside [0, ${this.items.length})`);
    return m;
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** Modules applied one after another. */
export class Sequential extends ModuleList<Module & Layer> implements Layer {
  forward(x: Tensor): Tensor {
    for (const m of this) x = m.forward(x);
    return x;
  }
}

export interface EmbeddingOptions {
  rng: Rng;
  /** Standard deviation of the normal initialisation. */
  std?: number;
  /** Give the table sparse row gradients (only the looked-up rows are touched). */
  sparse?: boolean;
}

/** A lookup table [rows, dim], initialised N(0, std²). */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly rows: number,
    readonly dim: number,
    opts: EmbeddingOptions,
  ) {
    super();
    this.weight = this.newParam("weight", [rows, dim], normalInit(opts.rng, opts.std ?? 0.1));
    this.weight.sparse = opts.sparse ?? true;
  }

  /** Rows for `ids`: [ids.length, dim]. */
  forward(ids: Int32Array | Ids): Tensor {
    return ops.embedding(this.weight, ids);
  }
}

export interface EmbeddingBagOptions extends EmbeddingOptions {
  /** How a bag's rows are pooled (default "mean", as PyTorch). */
  mode?: BagMode;
}

/** A lookup table that pools variable-length bags of ids (see ops.embeddingBag). */
export class EmbeddingBag extends Module {
  readonly weight: Tensor;
  readonly mode: BagMode;

  constructor(
    readonly rows: number,
    readonly dim: number,
    opts: EmbeddingBagOptions,
  ) {
    super();
    this.mode = opts.mode ?? "mean";
    this.weight = this.newParam("weight", [rows, dim], normalInit(opts.rng, opts.std ?? 0.1));
    this.weight.sparse = opts.sparse ?? true;
  }

  /** One pooled row per bag: [offsets.length, dim]. */
  forward(ids: Int32Array | Ids, offsets: Int32Array | Ids): Tensor {
    return ops.embeddingBag(this.weight, ids, offsets, this.mode);
  }
}

export interface LinearOptions {
  rng: Rng;
  bias?: boolean;
}

/** y = x Wᵀ + b with W [out, in], initialised as torch.nn.Linear (uniform ±1/√in). */
export class Linear extends Module implements Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions,
  ) {
    super();
    this.weight = this.newParam(
      "weight",
      [outFeatures, inFeatures],
      kaimingUniform(opts.rng, inFeatures, Math.sqrt(5)),
    );
    this.bias =
      (opts.bias ?? true)
        ? this.newParam("bias", [outFeatures], uniformInit(opts.rng, 1 / Math.sqrt(inFeatures)))
        : null;
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias ?? undefined);
  }
}

export type Activation = "relu" | "gelu" | "tanh";

/** Apply a named pointwise non-linearity. */
export function activate(x: Tensor, activation: Activation): Tensor {
  switch (activation) {
    case "relu":
      return ops.relu(x);
    case "gelu":
      return ops.gelu(x);
    case "tanh":
      return ops.tanh(x);
  }
}

/**
 * Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1−p). The
 * mask is drawn by the kernel from a seed this module's generator gives each call.
 */
export class Dropout extends Module implements Layer {
  constructor(
    readonly p: number,
    private readonly rng: Rng,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return ops.dropout(x, this.p, ops.maskSeed(this.rng));
  }

  /** The seed of the next mask (for ops that draw their own, e.g. attention's weights); null when not dropping. */
  nextSeed(): number | null {
    return this.training && this.p > 0 ? ops.maskSeed(this.rng) : null;
  }
}

export interface LayerNormOptions {
  /** Added to the variance (default 1e-5, as torch.nn.LayerNorm). */
  eps?: number;
}

/** Layer normalisation over the last dimension with a learned gain (ones) and bias (zeros), as torch.nn.LayerNorm. */
export class LayerNorm extends Module implements Layer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;

  constructor(
    readonly dim: number,
    opts: LayerNormOptions = {},
  ) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.weight = this.newParam("weight", [dim], (d) => d.fill(1));
    this.bias = this.newParam("bias", [dim], (d) => d.fill(0));
  }

  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export interface MultiHeadAttentionOptions {
  rng: Rng;
  heads?: number;
  /** Dropout on the attention weights (default 0). */
  dropout?: number;
  /** Initialisation of the four projections' weights (default torch.nn.Linear's). */
  init?: (data: Float32Array, fanIn: number, fanOut: number) => void;
}

/**
 * Multi-head self-attention over sequences laid out [batch · length, dim] (torch.nn.MultiheadAttention with
 * separate q, k, v projections): attention(x Wqᵀ, x Wkᵀ, x Wvᵀ) Woᵀ, with the causal and padding masks of
 * ops.attention.
 */
export class MultiHeadAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly output: Linear;
  readonly heads: number;
  readonly attentionDropout: Dropout;

  constructor(
    readonly dim: number,
    opts: MultiHeadAttentionOptions,
  ) {
    super();
    this.heads = opts.heads ?? 1;
    if (!(Number.isInteger(this.heads) && this.heads >= 1 && dim % this.heads === 0)) {
      throw new RangeError(`MultiHeadAttention: ${this.heads} heads do not divide the width ${dim}`);
    }
    const projection = (name: string): Linear => {
      const layer = this.child(name, new Linear(dim, dim, { rng: opts.rng }));
      if (opts.init) {
        opts.init(layer.weight.data, dim, dim);
        layer.bias!.data.fill(0);
      }
      return layer;
    };
    this.query = projection("query");
    this.key = projection("key");
    this.value = projection("value");
    this.output = projection("output");
    this.attentionDropout = this.child("attentionDropout", new Dropout(opts.dropout ?? 0, opts.rng.fork()));
  }

  /**
   * x [batch · length, dim] → [batch · queries, dim]: the outputs at each sequence's last `queries` positions
   * (default all); `valid` marks real (1) and padded (0) positions.
   */
  forward(
    x: Tensor,
    shape: { batch: number; length: number; queries?: number; causal?: boolean; valid?: AttentionOptions["valid"] },
  ): Tensor {
    const seed = this.attentionDropout.nextSeed();
    const asking = ops.lastPositions(x, shape.batch, shape.length, shape.queries ?? shape.length);
    const attended = ops.attention(this.query.forward(asking), this.key.forward(x), this.value.forward(x), {
      ...shape,
      heads: this.heads,
      ...(seed === null ? {} : { dropout: { p: this.attentionDropout.p, seed } }),
    });
    return this.output.forward(attended);
  }
}

export interface MLPOptions {
  rng: Rng;
  activation?: Activation;
  /** Apply the activation after the last layer too. */
  finalActivation?: boolean;
  /** Dropout probability after every hidden activation. */
  dropout?: number;
}

/** A stack of Linear layers of the given sizes ([in, hidden…, out]) with activations in between. */
export class MLP extends Module implements Layer {
  readonly layers: ModuleList<Linear>;
  readonly activation: Activation;
  readonly finalActivation: boolean;
  readonly dropout: Dropout | null;

  constructor(
    readonly sizes: readonly number[],
    opts: MLPOptions,
  ) {
    super();
    if (sizes.length < 2) throw new RangeError(`MLP: needs at least [in, out] sizes, got [${sizes.join(", ")}]`);
    this.activation = opts.activation ?? "relu";
    this.finalActivation = opts.finalActivation ?? false;
    this.layers = this.child("layers", new ModuleList<Linear>());
    for (let i = 0; i + 1 < sizes.length; i++)
      this.layers.push(new Linear(sizes[i]!, sizes[i + 1]!, { rng: opts.rng }));
    const p = opts.dropout ?? 0;
    // Its own stream, so the masks do not depend on how many draws initialisation took.
    this.dropout = p > 0 ? this.child("dropout", new Dropout(p, opts.rng.fork())) : null;
  }

  forward(x: Tensor): Tensor {
    const last = this.layers.length - 1;
    let i = 0;
    for (const layer of this.layers) {
      x = layer.forward(x);
      if (i < last || this.finalActivation) x = activate(x, this.activation);
      if (i < last && this.dropout) x = this.dropout.forward(x);
      i++;
    }
    return x;
  }
}

export interface AttentionPoolingOptions {
  rng: Rng;
  /** Standard deviation of the query's normal initialisation. */
  std?: number;
}

/** Pools each bag of rows with softmax attention against a learned query (see ops.attentionPool). */
export class AttentionPooling extends Module {
  readonly query: Tensor;

  constructor(
    readonly dim: number,
    opts: AttentionPoolingOptions,
  ) {
    super();
    this.query = this.newParam("query", [dim], normalInit(opts.rng, opts.std ?? 0.1));
  }

  /** values [n, dim] in bags given by `offsets` → [bags, dim]. */
  forward(values: Tensor, offsets: Int32Array | Ids): Tensor {
    return ops.attentionPool(values, offsets, this.query);
  }
}
