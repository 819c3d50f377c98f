/**
 * DeepRanker: the deep, history-aware multi-task teacher. Per (user, item) pair it embeds the ids, the side
 * features of both and the user's recent items — pooled by DIN-style target attention (Zhou et al. 2018)
 * against the candidate's embedding, and by a plain mean — then models feature crosses with a DCN-v2 cross
 * network (Wang et al. 2021) in parallel with a deep MLP, and predicts several tasks from the shared
 * representation, either with one tower per task (shared bottom) or through a multi-gate mixture of experts
 * (MMoE, Ma et al. 2018).
 */
import { Embedding, Linear, MLP, ModuleList } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { Rng } from "../engine/random.js";
import { Tensor } from "../engine/tensor.js";
import { recentItems, type HistoryBag, type ModelContext } from "./context.js";
import { FeatureEncoder } from "./features.js";
import { Recommender, type Pairs } from "./recommender.js";

/** Hyper-parameters of {@link DeepRanker} (JSON-able); every field has a default. */
export interface DeepRankerConfig {
  /** Width of every field's embedding (ids, features, pooled histories). Default 32. */
  embeddingDim?: number;
  /** Most recent history items attended over per pair. Default 20. */
  maxHistory?: number;
  /** Number of full-rank DCN-v2 cross layers. Default 2. */
  crossLayers?: number;
  /** Hidden sizes of the deep MLP run in parallel with the cross network (may be empty). Default [128, 64]. */
  deepSizes?: number[];
  /** Task heads, the first being the main (ranking) task. Default ["main", "conversion"]. */
  tasks?: string[];
  /** Experts of the MMoE layer; 0 means shared bottom (one tower per task on the shared representation). */
  experts?: number;
  /** Hidden sizes of each expert MLP (MMoE only). Default [64]. */
  expertSizes?: number[];
  /** Dropout after hidden activations of the deep MLP and the experts. Default 0. */
  dropout?: number;
  /** Standard deviation of the initial embeddings. Default 0.05. */
  initStd?: number;
  seed?: number;
}

const DEFAULTS: Required<DeepRankerConfig> = {
  embeddingDim: 32,
  maxHistory: 20,
  crossLayers: 2,
  deepSizes: [128, 64],
  tasks: ["main", "conversion"],
  experts: 0,
  expertSizes: [64],
  dropout: 0,
  initStd: 0.05,
  seed: 0,
};

/** Multiply-adds of an MLP with the given layer sizes. */
function mlpMacs(sizes: readonly number[]): number {
  let macs = 0;
  for (let i = 0; i + 1 < sizes.length; i++) macs += sizes[i]! * sizes[i + 1]!;
  return macs;
}

/** The DIN + DCN-v2 + multi-task teacher (kind "deep-ranker"); see the file comment. */
export class DeepRanker extends Recommender {
  readonly kind = "deep-ranker";
  /** The config with every default filled in. */
  readonly settings: Readonly<Required<DeepRankerConfig>>;
  readonly userId: Embedding;
  /** Shared by the target item and the history items, so history lookups train the item vectors too. */
  readonly itemId: Embedding;
  readonly userFeatures: FeatureEncoder | null;
  readonly itemFeatures: FeatureEncoder | null;
  readonly cross: ModuleList<Linear>;
  readonly deep: MLP | null;
  readonly experts: ModuleList<MLP> | null;
  readonly gates: ModuleList<Linear> | null;
  readonly towers: ModuleList<Linear>;
  /** Width of the concatenated fields x0. */
  readonly inputDim: number;
  /** Width of the shared representation concat(cross output, deep output). */
  readonly sharedDim: number;

  constructor(
    readonly config: DeepRankerConfig,
    context: ModelContext,
  ) {
    super(context);
    const s: Required<DeepRankerConfig> = { ...DEFAULTS };
    for (const [key, value] of Object.entries(config)) {
      if (value !== undefined && key in DEFAULTS) (s as Record<string, unknown>)[key] = value;
    }
    this.settings = s;
    const { embeddingDim: dim, tasks, experts } = s;
    if (!(Number.isInteger(dim) && dim > 0)) throw new RangeError(`DeepRanker: embeddingDim must be > 0, got ${dim}`);
    if (!(Number.isInteger(s.maxHistory) && s.maxHistory >= 0)) {
      throw new RangeError(`DeepRanker: maxHistory must be a non-negative integer, got ${s.maxHistory}`);
    }
    if (!(Number.isInteger(s.crossLayers) && s.crossLayers >= 0)) {
      throw new RangeError(`DeepRanker: crossLayers must be a non-negative integer, got ${s.crossLayers}`);
    }
    if (tasks.length === 0 || new Set(tasks).size !== tasks.length) {
      throw new RangeError(`DeepRanker: tasks must be distinct and non-empty, got [${tasks.join(", ")}]`);
    }
    if (!(Number.isInteger(experts) && experts >= 0)) {
      throw new RangeError(`DeepRanker: experts must be a non-negative integer, got ${experts}`);
    }
    if (experts > 0 && s.expertSizes.length === 0) throw new RangeError("DeepRanker: expertSizes must not be empty");

    const rng = new Rng(s.seed);
    const std = s.initStd;
    this.userId = this.child("userId", new Embedding(context.numUsers + 1, dim, { rng, std }));
    this.itemId = this.child("itemId", new Embedding(context.numItems, dim, { rng, std }));
    const features = this.featureEncoders(dim, { rng, std });
    this.userFeatures = features.user;
    this.itemFeatures = features.item;
    const historyFields = this.usesHistory ? 2 : 0; // target-attention pooled + mean pooled
    const fields = 2 + (this.userFeatures?.fieldCount ?? 0) + (this.itemFeatures?.fieldCount ?? 0) + historyFields;
    const d0 = fields * dim;
    this.inputDim = d0;

    this.cross = this.child("cross", new ModuleList<Linear>());
    for (let l = 0; l < s.crossLayers; l++) this.cross.push(new Linear(d0, d0, { rng }));
    const deepSizes = [d0, ...s.deepSizes];
    this.deep =
      s.deepSizes.length > 0
        ? this.child("deep", new MLP(deepSizes, { rng, finalActivation: true, dropout: s.dropout }))
        : null;
    this.sharedDim = d0 + (s.deepSizes.at(-1) ?? 0);

    let towerIn = this.sharedDim;
    if (experts > 0) {
      const sizes = [this.sharedDim, ...s.expertSizes];
      this.experts = this.child("experts", new ModuleList<MLP>());
      for (let e = 0; e < experts; e++) {
        this.experts.push(new MLP(sizes, { rng, finalActivation: true, dropout: s.dropout }));
      }
      this.gates = this.child("gates", new ModuleList<Linear>());
      for (let t = 0; t < tasks.length; t++) this.gates.push(new Linear(this.sharedDim, experts, { rng }));
      towerIn = s.expertSizes.at(-1)!;
    } else {
      this.experts = null;
      this.gates = null;
    }
    this.towers = this.child("towers", new ModuleList<Linear>());
    for (let t = 0; t < tasks.length; t++) this.towers.push(new Linear(towerIn, 1, { rng }));
  }

  /**
   * Whether the history fields exist: only when the context has training histories and maxHistory > 0 (a
   * model built without them has nowhere to put an explicit `pairs.history`, and ignores it).
   */
  get usesHistory(): boolean {
    return this.context.histories !== undefined && this.settings.maxHistory > 0;
  }

  /** Task names, main first. */
  override get tasks(): readonly string[] {
    return this.settings.tasks;
  }

  /**
   * Main-task logits [n]. History per pair: `pairs.history` when given (real-time serving, cold users; only its
   * last maxHistory items count), else the user's last maxHistory training items before `pairs.historyEnd`.
   */
  forward(pairs: Pairs): Tensor {
    return this.heads(pairs)[0]!;
  }

  /** Logits [n] of every task head, keyed by task name in config order (main first). */
  override forwardTasks(pairs: Pairs): Record<string, Tensor> {
    const logits = this.heads(pairs);
    const out: Record<string, Tensor> = {};
    this.tasks.forEach((task, t) => (out[task] = logits[t]!));
    return out;
  }

  /** The main tower's input: the shared representation, or the main task's expert mixture with MMoE. */
  override representation(pairs: Pairs): Tensor {
    return this.towerInput(this.shared(pairs), 0);
  }

  override get representationDim(): number {
    return this.towers.at(0).inFeatures;
  }

  override get historyLength(): number {
    return this.usesHistory ? this.settings.maxHistory : 0;
  }

  /**
   * 2 × the multiply-adds of one pair: nothing is shared across a user's candidates (the attention, the crosses
   * and every layer after them depend on the item), so this is also the cost of ranking one more item.
   */
  flopsPerItem(): number {
    const s = this.settings;
    const dim = s.embeddingDim;
    const d0 = this.inputDim;
    let macs = (this.userFeatures?.macs() ?? 0) + (this.itemFeatures?.macs() ?? 0);
    // Attention: a score and a weighted sum per history item; the mean pool: one more pass.
    if (this.usesHistory) macs += 3 * s.maxHistory * dim;
    macs += s.crossLayers * (d0 * d0 + d0); // W x_l, then x0 ⊙ (…)
    if (s.deepSizes.length > 0) macs += mlpMacs([d0, ...s.deepSizes]);
    const tasks = s.tasks.length;
    if (s.experts > 0) {
      const h = s.expertSizes.at(-1)!;
      macs += s.experts * mlpMacs([this.sharedDim, ...s.expertSizes]);
      macs += tasks * (this.sharedDim * s.experts + s.experts * h + h); // gate, mixture, tower
    } else {
      macs += tasks * this.sharedDim;
    }
    return 2 * macs;
  }

  /** The pairs' history bags: explicit ones, else the last maxHistory items before historyEnd. */
  private historyOf(pairs: Pairs): HistoryBag | null {
    if (!this.usesHistory) return null;
    return recentItems(this.context, pairs.users.values, this.settings.maxHistory, pairs.history, pairs.historyEnd);
  }

  /** x0 = concat of every field: [n, inputDim]. */
  private fields(pairs: Pairs): Tensor {
    const target = this.itemId.forward(pairs.items);
    const fields = [this.userId.forward(pairs.users), target];
    if (this.userFeatures) fields.push(...this.userFeatures.forward(pairs.users.values));
    if (this.itemFeatures) fields.push(...this.itemFeatures.forward(pairs.items.values));
    const bag = this.historyOf(pairs);
    if (bag) {
      if (bag.offsets.length !== pairs.items.length) {
        throw new RangeError(`DeepRanker: ${bag.offsets.length} history bags for ${pairs.items.length} pairs`);
      }
      const ids = new Ids(bag.ids);
      const offsets = new Ids(bag.offsets);
      const history = this.itemId.forward(ids);
      fields.push(ops.attentionPool(history, offsets, target));
      fields.push(ops.embeddingBag(this.itemId.weight, ids, offsets, "mean"));
    }
    return ops.concat(fields, -1);
  }

  /** concat(cross network output, deep MLP output): [n, sharedDim]. */
  private shared(pairs: Pairs): Tensor {
    const x0 = this.fields(pairs);
    let x = x0;
    for (const layer of this.cross) x = ops.add(ops.mul(x0, layer.forward(x)), x);
    return this.deep ? ops.concat([x, this.deep.forward(x0)], -1) : x;
  }

  /** The input of task t's tower; with MMoE, Σ_e gate_t(x)[e] · expert_e(x). */
  private towerInput(shared: Tensor, t: number, experts?: Tensor[]): Tensor {
    if (!this.experts || !this.gates) return shared;
    const outputs = experts ?? [...this.experts].map((e) => e.forward(shared));
    const gate = ops.softmax(this.gates.at(t).forward(shared)); // [n, E]
    let mixed: Tensor | null = null;
    outputs.forEach((out, e) => {
      const term = ops.mul(out, ops.sliceLastDim(gate, e, e + 1)); // [n, h] ⊙ [n, 1]
      mixed = mixed ? ops.add(mixed, term) : term;
    });
    return mixed!;
  }

  /** Every task's logits [n], in task order. */
  private heads(pairs: Pairs): Tensor[] {
    const n = pairs.items.length;
    const shared = this.shared(pairs);
    const experts = this.experts ? [...this.experts].map((e) => e.forward(shared)) : undefined;
    return this.tasks.map((_, t) =>
      this.towers
        .at(t)
        .forward(this.towerInput(shared, t, experts))
        .reshape([n]),
    );
  }
}
