/**
 * The data stage: read (or generate) the dataset a config names, split it (leave-one-out, or as given in
 * files with fixed test candidates), and build what
 * training and evaluation read (context, samples, the test set with its segments); plus aligning another
 * log to a saved model's ids, for the single-step commands.
 */
import { featureSchema } from "../data/features.js";
import { buildUserHistories, type UserHistories } from "../data/history.js";
import type { IdMap } from "../data/idmap.js";
import { conversionIndex, conversionLabels } from "../data/labels.js";
import { DataError, readCandidates, readDataset, readInteractions } from "../data/readers.js";
import { buildUserItemIndex, type UserItemIndex } from "../data/sampling.js";
import { makeInteractions, select } from "../data/shaping.js";
import { leaveOneOut } from "../data/splits.js";
import { generateEcommerce } from "../data/synthetic.js";
import type { Dataset, Interactions } from "../data/types.js";
import { coldUserSegment, countOccurrences, longTailSegment, type SegmentOf } from "../eval/protocol.js";
import type { ArtefactFeatures, ArtefactManifest } from "../models/artefact.js";
import { featureInputs, historyInputs, type ModelContext } from "../models/context.js";
import { buildTrainingData, type TrainingData } from "../train/training-data.js";
import type { DataConfig, SplitConfig } from "./config.js";
import { silent, type PipelineLog } from "./log.js";

/** The data, split and indexed, with everything training and evaluation need. */
export interface PreparedData {
  dataset: Dataset;
  train: Interactions;
  valid: Interactions;
  test: Interactions;
  /** Train histories: the models' context (training, validation). */
  histories: UserHistories;
  context: ModelContext;
  /** Train items per user (validation masks these; negatives avoid them). */
  trainSeen: UserItemIndex;
  /** Everything test evaluation reads. */
  testSet: TestSet;
  /** Training samples, with conversion labels when the data has them. */
  samples: TrainingData;
}

/** What test evaluation reads beside the model (see testSetOf). */
export interface TestSet {
  test: Interactions;
  /** Train and validation items per user: masked, never sampled as negatives. */
  seen: UserItemIndex;
  numItems: number;
  /** Train + validation histories: what history-aware models read as the user's past when scoring the test item. */
  histories?: UserHistories;
  /** Train interactions per item: the long-tail split, the popularity reference and novelty read it. */
  itemPopularity: Int32Array;
  /** The segmentations results are broken down by (sampled protocol): cold users, long-tail items. */
  segments: SegmentOf[];
  /** The conversion label of each test row (data/labels.ts); absent when the data has none. */
  conversions?: Uint8Array;
  /** Each test user's fixed negatives (a published protocol's), ranked instead of sampled ones. */
  candidates?: Map<number, Int32Array>;
}

/** Share of the test users with the fewest train interactions that form the "cold users" segment. */
export const COLD_USER_SHARE = 0.2;
/**
 * Share of the catalogue, by train popularity, that forms the head items (eval/protocol.ts headItems); the rest is
 * the long tail of the "long-tail items" segment and of every long-tail metric.
 */
export const HEAD_ITEM_SHARE = 0.2;

/**
 * The test set of a leave-one-out split: train + validation items masked and read as the users' histories;
 * "cold users" are the COLD_USER_SHARE of test users with the fewest train interactions (every user with at
 * most as many as the one at that quantile, so ties stay together), "long-tail items" the items outside the
 * HEAD_ITEM_SHARE most popular in train; conversion labels from `converted` (conversionIndex of the whole log).
 */
export function testSetOf(
  split: { train: Interactions; valid: Interactions; test: Interactions },
  numUsers: number,
  numItems: number,
  converted: UserItemIndex | null,
): TestSet {
  const { train, valid, test } = split;
  const past = concat(train, valid);
  const trainCounts = countOccurrences(train.users, numUsers);
  const itemPopularity = countOccurrences(train.items, numItems);
  const testCounts = Int32Array.from(test.users, (u) => trainCounts[u]!).sort();
  const coldThreshold = testCounts[Math.max(0, Math.ceil(COLD_USER_SHARE * testCounts.length) - 1)] ?? 0;
  return {
    test,
    seen: buildUserItemIndex(past, numUsers),
    numItems,
    histories: buildUserHistories(past, numUsers),
    itemPopularity,
    segments: [coldUserSegment(trainCounts, coldThreshold), longTailSegment(itemPopularity, HEAD_ITEM_SHARE)],
    ...(converted ? { conversions: conversionLabels(test.users, test.items, converted) } : {}),
  };
}

/** Read (or generate) the dataset a data config names. */
export async function loadData(data: DataConfig, seed: number): Promise<Dataset> {
  switch (data.kind) {
    case "synthetic":
      return generateEcommerce({ seed, ...data.synthetic });
    case "recbole":
      return readDataset(data.path);
    case "file":
      return readInteractions(data.path, {
        format: data.format ?? "auto",
        ...(data.columns ? { columns: data.columns } : {}),
      });
    default:
      throw new Error(`unknown data kind "${(data as { kind: string }).kind}"`);
  }
}

/** The three parts of a split, and the fixed test candidates when a protocol gives them. */
export interface Split {
  train: Interactions;
  valid: Interactions;
  test: Interactions;
  /** Each test user's negatives (catalogue indices), instead of sampled ones. */
  candidates?: Map<number, Int32Array>;
}

/**
 * Split a dataset (leave-one-out, unless `given`) and build the context (side features, train histories)
 * and samples.
 */
export function prepareData(dataset: Dataset, given?: Split): PreparedData {
  const numUsers = dataset.users.size;
  const numItems = dataset.items.size;
  const { train, valid, test } = given ?? leaveOneOut(dataset.interactions);
  if (train.length === 0) throw new Error(`dataset "${dataset.name}" has no training interactions`);
  if (test.length === 0) {
    throw new Error(
      given
        ? `dataset "${dataset.name}": the test file has no interactions`
        : `dataset "${dataset.name}" has no user with 3 distinct items: nothing to test leave-one-out`,
    );
  }
  const histories = buildUserHistories(train, numUsers);
  const context: ModelContext = { numUsers, numItems, histories: historyInputs(histories) };
  if (dataset.userFeatures) context.userFeatures = featureInputs(dataset.userFeatures);
  if (dataset.itemFeatures) context.itemFeatures = featureInputs(dataset.itemFeatures);
  const converted = conversionIndex(given ? concat(concat(train, valid), test) : dataset.interactions, numUsers);
  const testSet = testSetOf({ train, valid, test }, numUsers, numItems, converted);
  return {
    dataset,
    train,
    valid,
    test,
    histories,
    context,
    trainSeen: buildUserItemIndex(train, numUsers),
    testSet: given?.candidates ? { ...testSet, candidates: given.candidates } : testSet,
    samples: buildTrainingData(train, context, histories, converted),
  };
}

/**
 * The validation and test parts of a "files" split, read in the data's format with its id maps (ids first
 * seen there are added), and the fixed candidates; the data itself is the train part.
 */
export async function readSplitFiles(
  data: DataConfig,
  dataset: Dataset,
  split: SplitConfig & { kind: "files" },
): Promise<Split> {
  const options = {
    ...(data.kind === "file"
      ? { format: data.format ?? "auto", ...(data.columns ? { columns: data.columns } : {}) }
      : {}),
    users: dataset.users,
    items: dataset.items,
  } as const;
  const valid = (await readInteractions(split.valid, options)).interactions;
  const test = (await readInteractions(split.test, options)).interactions;
  const candidates = split.candidates
    ? await readCandidates(split.candidates, dataset.users, dataset.items)
    : undefined;
  if (candidates) {
    const missing = Array.from(new Set(test.users)).filter((u) => !candidates.has(u));
    if (missing.length > 0) {
      throw new DataError(
        split.candidates!,
        0,
        `${missing.length} test users have no candidate line (the first: "${dataset.users.external(missing[0]!)}")`,
        "users without candidates",
      );
    }
  }
  return { train: dataset.interactions, valid, test, ...(candidates ? { candidates } : {}) };
}

/** Two logs as one (rows of `a`, then rows of `b`). */
export function concat(a: Interactions, b: Interactions): Interactions {
  const join2 = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(x: T, y: T): T => {
    const out = new (x.constructor as new (n: number) => T)(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return makeInteractions({
    users: join2(a.users, b.users),
    items: join2(a.items, b.items),
    values: join2(a.values, b.values),
    timestamps: join2(a.timestamps, b.timestamps),
    eventTypes: join2(a.eventTypes, b.eventTypes),
  });
}

/** The data stage of a run: load the config's data, prepare it and log its size. */
export async function dataStage(
  data: DataConfig,
  seed: number,
  log: PipelineLog = silent,
  split: SplitConfig = { kind: "leave-one-out" },
): Promise<PreparedData> {
  const dataset = await loadData(data, seed);
  const prepared = prepareData(
    dataset,
    split.kind === "files" ? await readSplitFiles(data, dataset, split) : undefined,
  );
  const { context } = prepared;
  log.info(
    {
      dataset: dataset.name,
      users: context.numUsers,
      items: context.numItems,
      train: prepared.train.length,
      valid: prepared.valid.length,
      test: prepared.test.length,
    },
    "data",
  );
  return prepared;
}

/** The feature schemas an artefact of this dataset keeps (see ArtefactFeatures). */
export function datasetFeatures(dataset: Dataset): ArtefactFeatures {
  return {
    ...(dataset.userFeatures ? { users: featureSchema(dataset.userFeatures) } : {}),
    ...(dataset.itemFeatures ? { items: featureSchema(dataset.itemFeatures) } : {}),
  };
}

/** The data an artefact was trained on, from its lineage (undefined when it was not recorded). */
export function recordedData(manifest: ArtefactManifest): { data: DataConfig; seed: number } | undefined {
  const data = manifest.lineage.data as DataConfig | undefined;
  if (!data || typeof data !== "object" || typeof data.kind !== "string") return undefined;
  const seed = typeof manifest.lineage.seed === "number" ? manifest.lineage.seed : 0;
  return { data, seed };
}

/** Rows of `interactions` whose user and item exist in the given id maps, re-indexed into them. */
export function alignToIds(
  dataset: Dataset,
  users: IdMap,
  items: IdMap,
): { interactions: Interactions; dropped: number } {
  const userIndex = Int32Array.from(
    { length: dataset.users.size },
    (_, u) => users.get(dataset.users.external(u)) ?? -1,
  );
  const itemIndex = Int32Array.from(
    { length: dataset.items.size },
    (_, i) => items.get(dataset.items.external(i)) ?? -1,
  );
  const { interactions } = dataset;
  const keep: number[] = [];
  for (let r = 0; r < interactions.length; r++) {
    if (userIndex[interactions.users[r]!]! >= 0 && itemIndex[interactions.items[r]!]! >= 0) keep.push(r);
  }
  const kept = select(interactions, keep);
  return {
    interactions: makeInteractions({
      users: Int32Array.from(kept.users, (u) => userIndex[u]!),
      items: Int32Array.from(kept.items, (i) => itemIndex[i]!),
      values: kept.values,
      timestamps: kept.timestamps,
      eventTypes: kept.eventTypes,
    }),
    dropped: interactions.length - keep.length,
  };
}

/** Whether two id maps hold the same ids in the same order. */
export function sameIds(a: IdMap, b: IdMap): boolean {
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (a.external(i) !== b.external(i)) return false;
  return true;
}
