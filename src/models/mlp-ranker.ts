// Placeholder so the zoo compiles; the real model lands in the next commit.
import type { Tensor } from "../engine/tensor.js";
import { Recommender, type Pairs } from "./recommender.js";

export interface MLPRankerConfig {
  dim?: number;
}

export class MLPRanker extends Recommender {
  readonly kind = "mlp-ranker";
  constructor(
    readonly config: MLPRankerConfig,
    context: ConstructorParameters<typeof Recommender>[0],
  ) {
    super(context);
  }
  forward(_pairs: Pairs): Tensor {
    throw new Error("mlp-ranker: not implemented yet");
  }
  flopsPerItem(): number {
    return 0;
  }
}
