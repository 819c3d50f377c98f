/**
 * The evaluation stage: sampled validation (the early-stopping signal), test metrics (sampled and full
 * ranking, segments, task heads), students' fidelity to the teacher, size and latency, and the protocol in
 * words for the report.
 */
import { CONVERSION_RATING } from "../data/labels.js";
import { DataRng } from "../data/rng.js";
import { beyondAccuracyMetrics } from "../eval/beyond-accuracy.js";
import { PopularityRanker } from "../eval/popularity.js";
import {
  evaluateFullRanking,
  evaluateSampled,
  evaluateTasks,
  fidelity,
  headItems,
  LONG_TAIL_ITEMS,
  longTailSegment,
  rankSegments,
  sampledLists,
  type SampledList,
  type SampledOptions,
  type TaskScorer,
} from "../eval/protocol.js";
import { profileModel } from "../eval/profile.js";
import { scoreTasks, withScorer, type Recommender, type Scorer, type UserQuery } from "../models/recommender.js";
import type { Interactions } from "../data/types.js";
import type { SplitConfig } from "./config.js";
import { COLD_USER_SHARE, HEAD_ITEM_SHARE, type PreparedData, type TestSet } from "./data.js";
import { FIDELITY_PREFIX, FULL_RANKING_PREFIX, SEGMENT_PREFIX, type ReferenceSummary } from "./summary.js";

/** Settings of one evaluation (see PipelineConfig.evaluation). */
export interface EvaluationSettings {
  negatives: number;
  validationNegatives: number;
  ks: number[];
  fullRanking: boolean;
}

/** Test users, sampled once per run, over whom students' fidelity to the teacher is measured. */
export const FIDELITY_USERS = 300;

/** Sampled validation metrics (the early-stopping signal): valid items against `validationNegatives` unseen items. */
export function validator(
  prepared: PreparedData,
  evaluation: EvaluationSettings,
  seed: number,
): (model: Recommender) => Record<string, number> {
  const options = {
    seen: prepared.trainSeen,
    numItems: prepared.context.numItems,
    negatives: evaluation.validationNegatives,
    seed,
    ks: evaluation.ks,
  };
  // Drawn at the first validation and kept: every epoch ranks the same lists.
  let lists: SampledList[] | undefined;
  return (model) =>
    withScorer(model, (scorer) => {
      lists ??= sampledLists(prepared.valid, options);
      return evaluateSampled(scorer, prepared.valid, { ...options, lists }).metrics;
    });
}

/**
 * The expected NDCG@k of a random ranker with one relevant item among `length` candidates: the floor below
 * which validation says the model has learned nothing.
 */
export function randomNdcgAt(k: number, length: number): number {
  let sum = 0;
  for (let rank = 0; rank < Math.min(k, length); rank++) sum += 1 / Math.log2(rank + 2);
  return sum / length;
}

/** The query of a test user: history-aware models read everything before the test item, as serving would. */
export function testQuery(testSet: TestSet): ((user: number) => UserQuery) | undefined {
  const { histories } = testSet;
  return histories ? (user) => ({ user, history: histories.recent(user, Infinity) }) : undefined;
}

/**
 * Test metrics, the train and validation items of each user masked:
 * - sampled ranking ("NDCG@10", …) and, when asked, full ranking ("full:NDCG@10", …) with the beyond-accuracy
 *   metrics of its top-k lists (see rankingMetrics);
 * - sampled NDCG@k and HR@k per segment ("segment:cold users:NDCG@10", with "segment:cold users:count");
 * - task heads as classification on the sampled lists (evaluateTasks): the main head as a click-style task
 *   ("main:AUC", "main:GAUC"; its logits are ranking scores, not calibrated probabilities, so only the ranking
 *   metrics of classification apply) and, when the test set has conversion labels, every extra head of a
 *   multi-task model on them ("conversion:AUC", "conversion:GAUC", "conversion:LogLoss", "conversion:F1", …).
 */
export function evaluateModel(
  model: Recommender,
  testSet: TestSet,
  evaluation: EvaluationSettings,
  seed: number,
): Record<string, number> {
  model.eval();
  return withScorer(model, (scorer) => {
    const options = sampledOptions(testSet, evaluation, seed);
    const out = rankingMetrics(scorer, testSet, evaluation, options);
    const { test } = testSet;
    const [main, ...extra] = model.tasks;
    const labels: Record<string, ArrayLike<number>> = { [main!]: new Uint8Array(test.length).fill(1) };
    if (testSet.conversions) for (const task of extra) labels[task] = testSet.conversions;
    for (const [task, metrics] of Object.entries(evaluateTasks(taskScorer(model, scorer), test, labels, options))) {
      for (const [k, v] of Object.entries(metrics)) {
        if (k !== "count" && (task !== main || k === "AUC" || k === "GAUC")) out[`${task}:${k}`] = v;
      }
    }
    return out;
  });
}

/**
 * The popularity reference (eval/popularity.ts PopularityRanker: the most popular train items a user has not
 * seen) under the same protocol and metrics as the models, task heads aside: it has none.
 */
export function popularityReference(testSet: TestSet, evaluation: EvaluationSettings, seed: number): ReferenceSummary {
  return {
    name: "popularity",
    description: "the most popular training items the user has not seen, the same for everyone",
    metrics: rankingMetrics(
      new PopularityRanker(testSet.itemPopularity),
      testSet,
      evaluation,
      sampledOptions(testSet, evaluation, seed),
    ),
  };
}

/** The options of the sampled protocol on a test set: its fixed candidates when it has them. */
function sampledOptions(testSet: TestSet, evaluation: EvaluationSettings, seed: number): SampledOptions {
  const { test, seen, numItems } = testSet;
  const query = testQuery(testSet);
  return {
    seen,
    numItems,
    negatives: evaluation.negatives,
    seed,
    ks: evaluation.ks,
    ...(query ? { query } : {}),
    ...(testSet.candidates ? { lists: fixedLists(test, testSet.candidates) } : {}),
  };
}

/**
 * The ranking metrics of evaluateModel, sampled and per segment, and when asked the full ranking's, beyond
 * accuracy included: for every k, "full:Coverage@k", "full:Gini@k", "full:LongTailShare@k", "full:Novelty@k"
 * (eval/beyond-accuracy.ts, from the same top-k lists) and "full:LongTailNDCG@k" (NDCG@k over the users whose
 * held-out item is in the long tail; absent when none is).
 */
function rankingMetrics(
  scorer: Scorer,
  testSet: TestSet,
  evaluation: EvaluationSettings,
  options: SampledOptions,
): Record<string, number> {
  const { test, seen, numItems, itemPopularity } = testSet;
  const out: Record<string, number> = {};
  const sampled = evaluateSampled(scorer, test, options);
  for (const [k, v] of Object.entries(sampled.metrics)) if (k !== "count") out[k] = v;
  if (evaluation.fullRanking) {
    const head = headItems(itemPopularity, HEAD_ITEM_SHARE);
    const segmentOf = longTailSegment(itemPopularity, HEAD_ITEM_SHARE);
    const { query } = options;
    const ranking = { seen, numItems, ks: evaluation.ks, ...(query ? { query } : {}), segmentOf };
    const full = evaluateFullRanking(scorer, test, ranking);
    for (const [k, v] of Object.entries(full.metrics)) if (k !== "count") out[`${FULL_RANKING_PREFIX}${k}`] = v;
    const beyond = beyondAccuracyMetrics(full.lists!, { itemPopularity, head, ks: evaluation.ks });
    for (const [k, v] of Object.entries(beyond)) out[`${FULL_RANKING_PREFIX}${k}`] = v;
    const longTail = full.segments[LONG_TAIL_ITEMS];
    for (const k of evaluation.ks) {
      const ndcg = longTail?.[`NDCG@${k}`];
      if (ndcg !== undefined) out[`${FULL_RANKING_PREFIX}LongTailNDCG@${k}`] = ndcg;
    }
  }
  for (const segmentOf of testSet.segments) {
    for (const [segment, metrics] of Object.entries(rankSegments(sampled, segmentOf, evaluation.ks))) {
      for (const [k, v] of Object.entries(metrics)) {
        if (k === "count" || k.startsWith("NDCG@") || k.startsWith("HR@")) out[`${SEGMENT_PREFIX}${segment}:${k}`] = v;
      }
    }
  }
  return out;
}

/** The sampled protocol's lists from a protocol's fixed negatives: each test item, then its user's candidates. */
function fixedLists(test: Interactions, candidates: Map<number, Int32Array>): SampledList[] {
  return Array.from(test.users, (user, row) => {
    const item = test.items[row]!;
    const negatives = candidates.get(user)!.filter((i) => i !== item);
    return { row, user, candidates: Int32Array.from([item, ...negatives]) };
  });
}

/** Every head's logits for a user's candidates; a single-head model's come from its scorer (its fast path). */
function taskScorer(model: Recommender, scorer: Scorer): TaskScorer {
  if (model.tasks.length > 1) return (query, items) => scoreTasks(model, query, items);
  return (query, items) => ({ [model.tasks[0]!]: scorer.scoreCandidates(query, items) });
}

/**
 * A student's fidelity to its teacher ("fidelity:overlap@10", "fidelity:spearman", "fidelity:kendall"; see
 * eval/protocol.ts fidelity) over FIDELITY_USERS test users drawn with `seed`, both models reading the same
 * histories, each user's train and validation items excluded.
 */
export function fidelityMetrics(
  teacher: Recommender,
  student: Recommender,
  testSet: TestSet,
  seed: number,
): Record<string, number> {
  teacher.eval();
  student.eval();
  const testUsers = Int32Array.from(new Set(testSet.test.users)).sort();
  const users = new DataRng(seed).shuffle(testUsers).slice(0, FIDELITY_USERS).sort();
  const k = 10;
  const result = withScorer(teacher, (teacherScorer) =>
    withScorer(student, (studentScorer) =>
      fidelity(teacherScorer, studentScorer, users, {
        numItems: testSet.numItems,
        k,
        seen: testSet.seen,
        seed,
        query: testQuery(testSet),
      }),
    ),
  );
  return {
    [`${FIDELITY_PREFIX}overlap@${k}`]: result.topKOverlap,
    [`${FIDELITY_PREFIX}spearman`]: result.spearman,
    [`${FIDELITY_PREFIX}kendall`]: result.kendall,
  };
}

/** Size, cost and median latency of a model (one request: score the catalogue, take the top 10). */
export function profile(
  model: Recommender,
  numUsers: number,
): { parameters: number; bytes: number; flopsPerItem: number; latencyMs: number } {
  const users = Array.from({ length: Math.max(1, Math.min(64, numUsers)) }, (_, u) => u);
  const p = profileModel(model, { users, reps: 60, warmup: 10 });
  return { parameters: p.parameters, bytes: p.bytes, flopsPerItem: p.flopsPerItem, latencyMs: p.latencyMs.p50 };
}

/** The evaluation protocol in words, for the report. */
export function protocolText(evaluation: EvaluationSettings, split: SplitConfig = { kind: "leave-one-out" }): string {
  const full = evaluation.fullRanking ? " and against the whole catalogue (full ranking)" : "";
  const percent = (share: number) => `${Math.round(share * 100)}%`;
  const splitText =
    split.kind === "files"
      ? `split given as files (train: the data; validation ${split.valid}; test ${split.test})`
      : "leave-one-out per user (last item test, second-to-last validation, the rest train)";
  const against =
    split.kind === "files" && split.candidates
      ? `the fixed candidates of ${split.candidates}`
      : `${evaluation.negatives} sampled unseen items`;
  return (
    `${splitText}; ` +
    `test: each user's held-out item ranked against ${against}${full}, ` +
    `train and validation items masked, history-aware models reading the train and validation items as the ` +
    `user's past; early stopping on validation NDCG@10 against ` +
    `${evaluation.validationNegatives} sampled items; metrics at k = ${evaluation.ks.join(", ")}; ` +
    `segments: cold users (the ${percent(COLD_USER_SHARE)} of test users with the fewest train interactions, ` +
    `ties included) and long-tail items (outside the ${percent(HEAD_ITEM_SHARE)} most popular in train); ` +
    `task heads scored as classifiers on the sampled lists (a pair converts when any of its events is a cart or ` +
    `purchase, or a rating ≥ ${CONVERSION_RATING}); fidelity to the teacher over ${FIDELITY_USERS} test users`
  );
}
