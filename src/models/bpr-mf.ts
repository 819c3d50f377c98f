/** BPR matrix factorisation (Rendle et al. 2009): s(u, i) = ⟨p_u, q_i⟩. Teacher at large dim, student at small. */
import { Embedding } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Rng } from "../engine/random.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelContext } from "./context.js";
import { Recommender, type Pairs, type Scorer, type UserQuery } from "./recommender.js";

export interface BPRMFConfig {
  dim: number;
  /** Standard deviation of the initial embeddings. */
  initStd?: number;
  seed?: number;
}

export class BPRMF extends Recommender {
  readonly kind = "bpr-mf";
  readonly userEmbedding: Embedding;
  readonly itemEmbedding: Embedding;

  constructor(
    readonly config: BPRMFConfig,
    context: ModelContext,
  ) {
    super(context);
    const rng = new Rng(config.seed ?? 0);
    const std = config.initStd ?? 0.1;
    this.userEmbedding = this.child("user", new Embedding(context.numUsers + 1, config.dim, { rng, std }));
    this.itemEmbedding = this.child("item", new Embedding(context.numItems, config.dim, { rng, std }));
  }

  forward(pairs: Pairs): Tensor {
    return ops.rowDot(this.userEmbedding.forward(pairs.users), this.itemEmbedding.forward(pairs.items));
  }

  flopsPerItem(): number {
    return 2 * this.config.dim;
  }

  override scorer(): Scorer {
    return new DotScorer(this.userEmbedding.weight, this.itemEmbedding.weight);
  }
}

/** Scores a user row against item rows with one SIMD scan (models whose score is a plain dot product). */
export class DotScorer implements Scorer {
  constructor(
    private readonly users: Tensor,
    private readonly items: Tensor,
  ) {}

  scoreAll(query: UserQuery): Float32Array {
    const [rows, dim] = this.items.shape as [number, number];
    const rt = this.items.rt;
    const out = rt.scratch.alloc(rows * 4);
    rt.kernels.matVec!(this.items.ptr, this.users.ptr + query.user * dim * 4, rows, dim, out);
    const scores = rt.f32.slice(out >> 2, (out >> 2) + rows);
    rt.scratch.reset();
    return scores;
  }

  scoreCandidates(query: UserQuery, items: Int32Array): Float32Array {
    const all = this.scoreAll(query);
    return Float32Array.from(items, (i) => all[i]!);
  }
}
