/**
 * NeuMF (He et al. 2017): a GMF branch (element-wise product of user and item embeddings) and an MLP over
 * the concatenated user and item embeddings, fused by a final linear layer into one logit.
 */
import { Embedding, Linear, MLP } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Rng } from "../engine/random.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelContext } from "./context.js";
import { Recommender, type Pairs } from "./recommender.js";

export interface NeuMFConfig {
  /** Width of the GMF embeddings. */
  gmfDim: number;
  /** MLP layer sizes; the first is the concatenated user+item embedding width (each half of it). */
  mlpSizes: number[];
  initStd?: number;
  seed?: number;
}

export class NeuMF extends Recommender {
  readonly kind = "neumf";
  readonly userGmf: Embedding;
  readonly itemGmf: Embedding;
  readonly userMlp: Embedding;
  readonly itemMlp: Embedding;
  readonly mlp: MLP;
  readonly output: Linear;

  constructor(
    readonly config: NeuMFConfig,
    context: ModelContext,
  ) {
    super(context);
    const { gmfDim, mlpSizes } = config;
    const users = context.numUsers + 1;
    const items = context.numItems;
    if (mlpSizes.length < 2 || mlpSizes[0]! % 2 !== 0) {
      throw new RangeError(`NeuMF: mlpSizes must be [even input width, …, out], got [${mlpSizes.join(", ")}]`);
    }
    const rng = new Rng(config.seed ?? 0);
    const std = config.initStd ?? 0.1;
    const half = mlpSizes[0]! / 2;
    this.userGmf = this.child("userGmf", new Embedding(users, gmfDim, { rng, std }));
    this.itemGmf = this.child("itemGmf", new Embedding(items, gmfDim, { rng, std }));
    this.userMlp = this.child("userMlp", new Embedding(users, half, { rng, std }));
    this.itemMlp = this.child("itemMlp", new Embedding(items, half, { rng, std }));
    this.mlp = this.child("mlp", new MLP(mlpSizes, { rng, finalActivation: true }));
    this.output = this.child("output", new Linear(gmfDim + mlpSizes[mlpSizes.length - 1]!, 1, { rng }));
  }

  forward({ users, items }: Pairs): Tensor {
    const gmf = ops.mul(this.userGmf.forward(users), this.itemGmf.forward(items));
    const mlp = this.mlp.forward(ops.concat([this.userMlp.forward(users), this.itemMlp.forward(items)], -1));
    return this.output.forward(ops.concat([gmf, mlp], -1)).reshape([users.length]);
  }

  flopsPerItem(): number {
    const { gmfDim, mlpSizes } = this.config;
    let macs = gmfDim;
    for (let i = 0; i + 1 < mlpSizes.length; i++) macs += mlpSizes[i]! * mlpSizes[i + 1]!;
    macs += gmfDim + mlpSizes[mlpSizes.length - 1]!;
    return 2 * macs;
  }
}
