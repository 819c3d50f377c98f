/**
 * The interface every teacher and student implements, in the style of RecBole's model zoo: a model is a
 * Module that scores (user, item) pairs; training losses, candidate scoring and catalogue scoring are
 * defined on top of that, and models override them where they have something faster.
 */
import { Module } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { Tensor, endStep, noGrad } from "../engine/tensor.js";
import { Rng } from "../engine/random.js";
import type { HistoryBag, ModelContext } from "./context.js";
import { FeatureEncoder } from "./features.js";

/** How a model initialises its parameters: one generator from the seed, embeddings of this std. */
export interface InitOptions {
  rng: Rng;
  std: number;
}

/** The init options of a config's `seed` and `initStd` (default 0 and 0.1). */
export function initOptions(config: { seed?: number; initStd?: number }): InitOptions {
  return { rng: new Rng(config.seed ?? 0), std: config.initStd ?? 0.1 };
}

/** Pairs to score: (users[k], items[k]), each user seen with history bag k when the model uses history. */
export interface Pairs {
  users: Ids;
  items: Ids;
  /** Recent items per pair; history-aware models build it from the context when absent. */
  history?: HistoryBag;
  /** Exclusive end of each pair's visible history in context.histories (training: no peeking ahead). */
  historyEnd?: Int32Array;
}

/** (user, positive item, negative item) triples of one training batch. */
export interface PairwiseBatch {
  users: Int32Array;
  positives: Int32Array;
  negatives: Int32Array;
  /** Exclusive end of each user's visible history (positions in context.histories). */
  historyEnd?: Int32Array;
}

/** Who to recommend for: a known user index (or unknownUser(context)), optionally with explicit recent items. */
export interface UserQuery {
  user: number;
  /** Recent items, oldest first; overrides the training history (real-time serving, cold users). */
  history?: Int32Array;
}

/** Inference-time scoring, with whatever a model can precompute (item vectors, caches) done once. */
export interface Scorer {
  scoreAll(query: UserQuery): Float32Array;
  scoreCandidates(query: UserQuery, items: Int32Array): Float32Array;
  /**
   * scoreCandidates of many queries at once (query k's candidates are lists[k]), for scorers that encode
   * users faster in batches (evaluation's thousands of short lists); absent: one query at a time.
   */
  scoreLists?(queries: readonly UserQuery[], lists: readonly Int32Array[]): Float32Array[];
  /** Release what the scorer holds in WebAssembly memory (scorers that copy item vectors there have it). */
  dispose?(): void;
}

export abstract class Recommender extends Module {
  /** The zoo name of the model ("bpr-mf", "neumf", "two-tower", …). */
  abstract readonly kind: string;

  constructor(readonly context: ModelContext) {
    super();
  }

  /**
   * Encoders of the context's user and item side features (null where it has none), registered as the
   * children "userFeatures" and "itemFeatures", in that order.
   */
  protected featureEncoders(
    dim: number,
    opts: InitOptions,
  ): { user: FeatureEncoder | null; item: FeatureEncoder | null } {
    const { userFeatures, itemFeatures } = this.context;
    return {
      user: userFeatures ? this.child("userFeatures", new FeatureEncoder(userFeatures, dim, opts)) : null,
      item: itemFeatures ? this.child("itemFeatures", new FeatureEncoder(itemFeatures, dim, opts)) : null,
    };
  }

  get numUsers(): number {
    return this.context.numUsers;
  }

  get numItems(): number {
    return this.context.numItems;
  }

  /** Logits for the pairs: [n]. */
  abstract forward(pairs: Pairs): Tensor;

  /**
   * Logits of R candidate lists of L items: `users` [R], `items` [R·L] row-major, `historyEnd` [R] (the
   * visible history of each list's user) → [R, L]. The default scores every (user, item) pair; models whose
   * user side does not depend on the item override it to encode each user once per list.
   */
  scoreLists(users: Int32Array, items: Int32Array, historyEnd?: Int32Array): Tensor {
    const [rows, length] = listShape(users, items, historyEnd);
    return this.forward(listPairs(users, items, historyEnd)).reshape([rows, length]);
  }

  /** Names of the task heads, the main (ranking) task first; single-head models have only "main". */
  get tasks(): readonly string[] {
    return ["main"];
  }

  /** Logits per task head (multi-task models), keyed like `tasks`; the first entry is the main (ranking) task. */
  forwardTasks(pairs: Pairs): Record<string, Tensor> {
    return { main: this.forward(pairs) };
  }

  /**
   * The model's pair representation (the input of its last layer), [n, representationDim], for hint
   * distillation; models without a meaningful one return null.
   */
  representation(_pairs: Pairs): Tensor | null {
    return null;
  }

  /** The width of `representation` (null when there is none), known before any pair is scored. */
  get representationDim(): number | null {
    return null;
  }

  /** Recent items per user the model reads from its context's histories (0: none); an artefact keeps only these. */
  get historyLength(): number {
    return 0;
  }

  /** FLOPs (2 per multiply-add) to score one more item for an already-encoded user. */
  abstract flopsPerItem(): number;

  /** BPR loss of a batch: -mean log σ(s(u, i⁺) - s(u, i⁻)). */
  loss(batch: PairwiseBatch): Tensor {
    const users = new Ids(batch.users);
    const common = { users, historyEnd: batch.historyEnd };
    const pos = this.forward({ ...common, items: new Ids(batch.positives) });
    const neg = this.forward({ ...common, items: new Ids(batch.negatives) });
    return ops.bprLoss(pos, neg);
  }

  /** A scorer for evaluation and serving (call again after the parameters change). */
  scorer(): Scorer {
    return new PairScorer(this);
  }
}

/** Run `use` with a fresh scorer of `model`, releasing the scorer afterwards (see Scorer.dispose). */
export function withScorer<T>(model: Recommender, use: (scorer: Scorer) => T): T {
  const scorer = model.scorer();
  try {
    return use(scorer);
  } finally {
    scorer.dispose?.();
  }
}

/** Scores by running forward() over the candidates, in chunks; models override scorer() when they can do better. */
export class PairScorer implements Scorer {
  constructor(
    private readonly model: Recommender,
    private readonly chunk = 4096,
  ) {}

  scoreCandidates(query: UserQuery, items: Int32Array): Float32Array {
    const out = new Float32Array(items.length);
    noGrad(() => {
      for (let start = 0; start < items.length; start += this.chunk) {
        const part = items.subarray(start, Math.min(items.length, start + this.chunk));
        const users = new Int32Array(part.length).fill(query.user);
        const history = query.history ? repeatBag(query.history, part.length) : undefined;
        out.set(this.model.forward({ users: new Ids(users), items: new Ids(part), history }).data, start);
        endStep();
      }
    });
    return out;
  }

  scoreAll(query: UserQuery): Float32Array {
    return this.scoreCandidates(
      query,
      Int32Array.from({ length: this.model.numItems }, (_, i) => i),
    );
  }
}

/** Every task head's logits for one user's candidates, keyed like `model.tasks`: forwardTasks in chunks, no graph. */
export function scoreTasks(
  model: Recommender,
  query: UserQuery,
  items: Int32Array,
  chunk = 4096,
): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const task of model.tasks) out[task] = new Float32Array(items.length);
  noGrad(() => {
    for (let start = 0; start < items.length; start += chunk) {
      const part = items.subarray(start, Math.min(items.length, start + chunk));
      const users = new Int32Array(part.length).fill(query.user);
      const history = query.history ? repeatBag(query.history, part.length) : undefined;
      const heads = model.forwardTasks({ users: new Ids(users), items: new Ids(part), history });
      for (const task of model.tasks) out[task]!.set(heads[task]!.data, start);
      endStep();
    }
  });
  return out;
}

/** The same history for `n` pairs. */
export function repeatBag(history: Int32Array, n: number): HistoryBag {
  const ids = new Int32Array(history.length * n);
  const offsets = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    ids.set(history, k * history.length);
    offsets[k] = k * history.length;
  }
  return { ids, offsets };
}

/** [R, L] of a list batch, checked: `items` holds R·L ids and `historyEnd` (if any) R entries. */
export function listShape(users: Int32Array, items: Int32Array, historyEnd?: Int32Array): [number, number] {
  const rows = users.length;
  const length = rows > 0 ? items.length / rows : 0;
  if (!Number.isInteger(length) || (rows === 0 && items.length > 0)) {
    throw new RangeError(`scoreLists: ${items.length} items do not split into ${rows} equal lists`);
  }
  if (historyEnd && historyEnd.length !== rows) {
    throw new RangeError(`scoreLists: ${historyEnd.length} history ends for ${rows} lists`);
  }
  return [rows, length];
}

/** Per list item, the index of its list (row r repeated L times): to spread one vector per list over its items. */
export function listIndex(rows: number, length: number): Int32Array {
  const out = new Int32Array(rows * length);
  for (let r = 0; r < rows; r++) out.fill(r, r * length, (r + 1) * length);
  return out;
}

/** Every (user, item) pair of R lists of L items, each pair seeing its list's history end. */
export function listPairs(users: Int32Array, items: Int32Array, historyEnd?: Int32Array): Pairs {
  const [rows, length] = listShape(users, items, historyEnd);
  const index = listIndex(rows, length);
  return {
    users: new Ids(Int32Array.from(index, (r) => users[r]!)),
    items: new Ids(items),
    historyEnd: historyEnd && Int32Array.from(index, (r) => historyEnd[r]!),
  };
}
