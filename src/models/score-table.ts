/**
 * A model that is its scores: one stored logit per (user, item), the unknown user's row last. It is how
 * a teacher from another engine (an ONNX model, src/interop) joins a run: its scores are computed once, in
 * batches, into the table, and from then on it is a Recommender like any other — soft labels, every
 * distillation method but the hint term (it has no representation), fidelity metrics, artefacts.
 */
import * as ops from "../engine/ops/index.js";
import { Tensor } from "../engine/tensor.js";
import { unknownUser, type ModelContext } from "./context.js";
import { Recommender, type Pairs, type Scorer, type UserQuery } from "./recommender.js";

export interface ScoreTableConfig {
  /** Where the scores came from (e.g. the ONNX file), kept in the artefact's spec. */
  source?: string;
}

export class ScoreTable extends Recommender {
  readonly kind = "score-table";
  /** Logits [(numUsers + 1) · numItems, 1], row-major by user: a column, so a pair's score is one gathered row. */
  readonly scores: Tensor;

  constructor(
    readonly config: ScoreTableConfig,
    context: ModelContext,
  ) {
    super(context);
    this.scores = this.newParam("scores", [(context.numUsers + 1) * context.numItems, 1], () => {});
  }

  /** The flat position of (user, item); users past the table read the unknown user's row. */
  private position(user: number, item: number): number {
    const row = user >= 0 && user < this.numUsers ? user : unknownUser(this.context);
    if (!(item >= 0 && item < this.numItems)) {
      throw new RangeError(`ScoreTable: item ${item} is outside the catalogue of ${this.numItems}`);
    }
    return row * this.numItems + item;
  }

  forward(pairs: Pairs): Tensor {
    const users = pairs.users.values;
    const items = pairs.items.values;
    const at = Int32Array.from(users, (u, k) => this.position(u, items[k]!));
    return ops.embedding(this.scores, at).reshape([at.length]);
  }

  /** A lookup: nothing to compute per item. */
  flopsPerItem(): number {
    return 1;
  }

  override scorer(): Scorer {
    return {
      scoreAll: (query: UserQuery) => {
        const start = this.position(query.user, 0);
        return this.scores.data.slice(start, start + this.numItems);
      },
      scoreCandidates: (query: UserQuery, items: Int32Array) => {
        const data = this.scores.data;
        return Float32Array.from(items, (i) => data[this.position(query.user, i)]!);
      },
    };
  }
}
