/**
 * Next-item training of sequence models (SASRec's): one window per user per epoch, the user's most recent
 * training items, every position predicting the item after it under the causal mask — L predictions from
 * one forward pass. Two losses:
 * - "bce", the paper's: per position, binary cross-entropy of the next item against one negative drawn
 *   uniformly from the items the user never interacted with in training;
 * - "softmax", sampled softmax: per position, cross-entropy over the next item and `negatives` items drawn
 *   for the whole batch (shared, as in-batch sampled softmax does; a draw that happens to be a position's
 *   own target is kept; the draw is seeded by the batch's optimiser step, so threads holding slices of one
 *   batch share its negatives as one thread would). The draws come from `sampler`:
 *   - "uniform": uniformly from the catalogue, as the SASRec references draw them;
 *   - "popularity": in proportion to each item's training interactions plus one, each negative's logit
 *     corrected by −log(negatives · Q(i)), its expected count among the draws (the logQ correction of
 *     sampled softmax: Bengio & Senécal 2008, Jean et al. 2015, Yi et al. RecSys'19), so the negatives'
 *     Σ e^{s − log(K·Q)} is an unbiased estimate of the whole catalogue's Σ e^s and the loss estimates the
 *     full softmax cross-entropy whatever Q is. Uniform draws are mostly unpopular items, which a model that
 *     ranks by popularity alone already beats, so a small model learns little beyond popularity from them;
 *     popularity draws put the items a user's next item actually competes with into the sample.
 * Both average over the batch's real (unpadded) positions.
 */
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { Rng } from "../engine/random.js";
import { Tensor } from "../engine/tensor.js";
import { historyPopularity, type HistoryInputs, type ModelContext } from "../models/context.js";
import { isSequenceModel, sequenceWindows, type SequenceModel } from "../models/sequence.js";
import type { Recommender } from "../models/recommender.js";
import type { TrainBatch } from "./losses.js";
import { trainingProgram, type Objective, type TrainConfig } from "./program.js";

export const SEQUENCE_LOSSES = ["bce", "softmax"] as const;
export type SequenceLossKind = (typeof SEQUENCE_LOSSES)[number];
export const NEGATIVE_SAMPLERS = ["uniform", "popularity"] as const;
export type NegativeSampler = (typeof NEGATIVE_SAMPLERS)[number];

export interface SequenceLossOptions {
  kind: SequenceLossKind;
  /** Shared negatives per batch of the sampled softmax (default 100). */
  negatives?: number;
  /** Where the sampled softmax draws its negatives from (default "popularity"; see the module comment). */
  sampler?: NegativeSampler;
}

/** Items drawn in proportion to their training interactions plus one (so every item can be drawn). */
export class PopularityProposal {
  /** Cumulative weights, [numItems]: item i is drawn when a uniform draw in [0, total) falls in its step. */
  private readonly cumulative: Float64Array;
  /** log Q(i), the log probability of drawing item i. */
  readonly logProbability: Float64Array;

  constructor(histories: HistoryInputs, numItems: number) {
    const weights = Float64Array.from(historyPopularity(histories, numItems), (count) => count + 1);
    this.cumulative = new Float64Array(numItems);
    let total = 0;
    weights.forEach((w, i) => (this.cumulative[i] = total += w));
    this.logProbability = Float64Array.from(weights, (w) => Math.log(w / total));
  }

  /** One item, with probability Q(i). */
  draw(rng: Rng): number {
    const u = rng.next() * this.cumulative[this.cumulative.length - 1]!;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Each user's training items sorted, for "never interacted with" checks by binary search. */
class SeenItems {
  private readonly sorted: Int32Array;

  constructor(private readonly histories: HistoryInputs) {
    this.sorted = histories.items.slice();
    const users = histories.offsets.length - 1;
    for (let u = 0; u < users; u++) this.sorted.subarray(histories.offsets[u]!, histories.offsets[u + 1]!).sort();
  }

  has(user: number, item: number): boolean {
    let lo = this.histories.offsets[user]!;
    let hi = this.histories.offsets[user + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.sorted[mid]!;
      if (v === item) return true;
      if (v < item) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }
}

/**
 * The next-item loss of a batch of windows (see the module comment); null when no position has a target.
 * The sampled softmax draws from `proposal` when given (with the logQ correction), else uniformly.
 */
export function sequenceLoss(
  model: SequenceModel,
  users: Int32Array,
  inputs: Int32Array,
  targets: Int32Array,
  negative: (user: number) => number,
  rng: Rng,
  options: SequenceLossOptions,
  proposal?: PopularityProposal,
): Tensor | null {
  const length = model.maxLength;
  const batch = users.length;
  const rows: number[] = [];
  for (let r = 0; r < targets.length; r++) if (targets[r]! >= 0) rows.push(r);
  if (rows.length === 0) return null;
  const states = ops.embedding(model.sequenceStates(inputs, batch), Int32Array.from(rows));
  const positives = model.itemVectors(new Ids(Int32Array.from(rows, (r) => targets[r]!)));
  const positiveLogits = ops.rowDot(states, positives);
  if (options.kind === "bce") {
    const negatives = model.itemVectors(
      new Ids(Int32Array.from(rows, (r) => negative(users[Math.floor(r / length)]!))),
    );
    const logits = ops.concat([positiveLogits, ops.rowDot(states, negatives)], 0);
    // bceWithLogits averages over both halves; the paper sums the two terms per position.
    const labels = new Float32Array(2 * rows.length).fill(1, 0, rows.length);
    return ops.scale(ops.bceWithLogits(logits, labels), 2);
  }
  const count = options.negatives ?? 100;
  const shared = Int32Array.from({ length: count }, () => (proposal ? proposal.draw(rng) : rng.int(model.numItems)));
  const negativeLogits = ops.linear(states, model.itemVectors(new Ids(shared)));
  if (!proposal) return ops.sampledSoftmaxCrossEntropy(positiveLogits, negativeLogits);
  const logExpectedCounts = Float32Array.from(shared, (item) => -(Math.log(count) + proposal.logProbability[item]!));
  return ops.sampledSoftmaxCrossEntropy(
    positiveLogits,
    ops.add(negativeLogits, Tensor.from(logExpectedCounts, [count])),
  );
}

function sequenceModelOf(model: Recommender): SequenceModel {
  if (!isSequenceModel(model)) {
    throw new Error(`train: next-item (sequence) training needs a sequence model such as sasrec, not ${model.kind}`);
  }
  return model;
}

/** What the next-item loss needs from a program's config: the context's histories and the loss settings. */
export interface SequenceSettings extends SequenceLossOptions {
  /** Seeds the negative draws: each thread's per-position ones, and each step's shared ones. */
  seed: number;
}

/** The random stream of one optimiser step's shared draws (the same on every thread of the step). */
function stepRng(seed: number, step: number): Rng {
  return new Rng((seed ^ 0x5e9) + Math.imul(step + 1, 0x9e3779b1));
}

/**
 * The next-item loss of a training batch on one thread, for `model` built over `context`: each sample is
 * a user's last training row (see {@link sequenceSamples}), whose window ends just after it. Each thread
 * draws its per-position negatives from its own stream of the settings' seed; a batch's shared negatives
 * come from its step's stream (batches without a step: the thread's).
 */
export function sequenceHardLoss(
  context: ModelContext,
  built: Recommender,
  settings: SequenceSettings,
  thread: number,
): (batch: TrainBatch) => Tensor | null {
  const model = sequenceModelOf(built);
  const histories = context.histories;
  if (!histories) throw new Error("train: next-item training needs the users' histories in the model's context");
  const seen = new SeenItems(histories);
  const rng = new Rng((settings.seed ^ 0x5e9) + 7919 * thread);
  const numItems = model.numItems;
  const negative = (user: number): number => {
    for (let attempt = 0; attempt < 64; attempt++) {
      const item = rng.int(numItems);
      if (!seen.has(user, item)) return item;
    }
    return rng.int(numItems); // a user who has seen nearly everything: any item
  };
  const proposal =
    settings.kind === "softmax" && (settings.sampler ?? "popularity") === "popularity"
      ? new PopularityProposal(histories, numItems)
      : undefined;
  return (batch) => {
    if (!batch.historyEnd) throw new Error("train: next-item training needs each sample's history position");
    const ends = Int32Array.from(batch.historyEnd, (e) => e + 1);
    const windows = sequenceWindows(histories, batch.users, ends, model.maxLength);
    const shared = batch.step === undefined ? rng : stepRng(settings.seed, batch.step);
    return sequenceLoss(model, batch.users, windows.inputs, windows.targets, negative, shared, settings, proposal);
  };
}

/** The samples a next-item epoch visits: each user's last training row, for users with at least two rows. */
export function sequenceSamples(histories: HistoryInputs): Int32Array {
  const last: number[] = [];
  const users = histories.offsets.length - 1;
  for (let u = 0; u < users; u++) {
    if (histories.offsets[u + 1]! - histories.offsets[u]! >= 2) last.push(histories.offsets[u + 1]! - 1);
  }
  return Int32Array.from(last);
}

/**
 * The random model's loss under `options`: 2 ln 2 (bce), ln(1 + negatives) (softmax, uniform draws);
 * undefined under popularity draws, where it depends on which items were drawn.
 */
export function sequenceRandomLoss(options: SequenceLossOptions): number | undefined {
  if (options.kind === "bce") return 2 * Math.LN2;
  return (options.sampler ?? "popularity") === "uniform" ? Math.log(1 + (options.negatives ?? 100)) : undefined;
}

/** Settings checked: a known loss and sampler, and a positive number of negatives (default 100). */
export function checkSequenceOptions(options: SequenceLossOptions): Required<SequenceLossOptions> {
  if (!SEQUENCE_LOSSES.includes(options.kind)) {
    throw new RangeError(
      `train: unknown sequence loss "${String(options.kind)}" (known: ${SEQUENCE_LOSSES.join(", ")})`,
    );
  }
  const negatives = options.negatives ?? 100;
  if (!(Number.isInteger(negatives) && negatives >= 1)) {
    throw new RangeError(`train: sequence negatives must be a positive integer, got ${negatives}`);
  }
  const sampler = options.sampler ?? "popularity";
  if (!NEGATIVE_SAMPLERS.includes(sampler)) {
    throw new RangeError(
      `train: unknown negative sampler "${String(sampler)}" (known: ${NEGATIVE_SAMPLERS.join(", ")})`,
    );
  }
  return { kind: options.kind, negatives, sampler };
}

interface SequenceConfig extends TrainConfig {
  sequence: SequenceSettings;
}

/** The next-item program (hard labels only; distillation adds its terms in distill/program.ts). */
export const program = trainingProgram<SequenceConfig>((config, _data, model, thread) => ({
  loss: sequenceHardLoss(config.context, model, config.sequence, thread),
}));

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const sequenceProgramUrl = import.meta.url;

/** The next-item objective over training histories in CSR form: an epoch visits each user once, at their last row. */
export function sequenceObjective(histories: HistoryInputs, options: SequenceLossOptions, seed: number): Objective {
  const checked = checkSequenceOptions(options);
  const randomLoss = sequenceRandomLoss(checked);
  return {
    programUrl: sequenceProgramUrl,
    config: { sequence: { ...checked, seed } },
    samples: sequenceSamples(histories),
    ...(randomLoss === undefined ? {} : { randomLoss }),
  };
}
