/**
 * The interface every teacher and student implements, in the style of RecBole's model zoo: a model is a
 * Module that scores (user, item) pairs; training losses, candidate scoring and catalogue scoring are
 * defined on top of that, and models override them where they have something faster.
 */
import { Module } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { Tensor, endStep, noGrad } from "../engine/tensor.js";

/** (user, positive item, negative item) triples of one training batch. */
export interface PairwiseBatch {
  users: Int32Array;
  positives: Int32Array;
  negatives: Int32Array;
}

export abstract class Recommender extends Module {
  abstract readonly numUsers: number;
  abstract readonly numItems: number;

  /** Logits for the pairs (users[k], items[k]): [n]. */
  abstract forward(users: Ids, items: Ids): Tensor;

  /** Multiply-adds per scored (user, item) pair, counted as 2 FLOPs each, once the user is encoded. */
  abstract flopsPerItem(): number;

  /** BPR loss of a batch: -mean log σ(s(u, i⁺) - s(u, i⁻)). */
  loss(batch: PairwiseBatch): Tensor {
    const users = new Ids(batch.users);
    return ops.bprLoss(this.forward(users, new Ids(batch.positives)), this.forward(users, new Ids(batch.negatives)));
  }

  /** Scores of `items` for one user (inference; no graph). */
  scoreCandidates(user: number, items: Int32Array): Float32Array {
    return noGrad(() => {
      const scores = this.forward(new Ids(new Int32Array(items.length).fill(user)), new Ids(items)).data.slice();
      endStep();
      return scores;
    });
  }

  /** Scores of every item for one user (inference). */
  scoreAll(user: number): Float32Array {
    return this.scoreCandidates(
      user,
      Int32Array.from({ length: this.numItems }, (_, i) => i),
    );
  }
}
