// Placeholder so the zoo compiles; the real model lands in the next commit.
import type { Tensor } from "../engine/tensor.js";
import { Recommender, PairScorer, type Pairs } from "./recommender.js";

export interface TwoTowerConfig {
  dim?: number;
}

export class TwoTower extends Recommender {
  readonly kind = "two-tower";
  constructor(
    readonly config: TwoTowerConfig,
    context: ConstructorParameters<typeof Recommender>[0],
  ) {
    super(context);
  }
  forward(_pairs: Pairs): Tensor {
    throw new Error("two-tower: not implemented yet");
  }
  flopsPerItem(): number {
    return 0;
  }
}

export class TwoTowerScorer extends PairScorer {}
