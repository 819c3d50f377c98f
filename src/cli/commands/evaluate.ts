/**
 * `distillrec evaluate`: evaluate a model artefact on the leave-one-out test split of a dataset (by default
 * the data it was trained on) — sampled and full-ranking metrics, size and latency — as a table or JSON.
 */
import { Command } from "commander";
import { buildUserHistories } from "../../data/history.js";
import { buildUserItemIndex } from "../../data/sampling.js";
import { leaveOneOut } from "../../data/splits.js";
import { concat, evaluateModel, loadData, profile, alignToIds } from "../../distill/pipeline.js";
import { loadArtefact, type ArtefactManifest } from "../../models/artefact.js";
import {
  createLogger,
  dataFromPath,
  describeData,
  intList,
  metricsTable,
  positiveInt,
  printerOf,
  UsageError,
  type CommandDeps,
} from "./common.js";
import { teacherData } from "./distill.js";

/** Options of `evaluate` as commander parses them. */
export interface EvaluateOptions {
  model: string;
  data?: string;
  negatives?: number;
  ks?: number[];
  fullRanking?: boolean;
  seed?: number;
  json?: boolean;
  quiet?: boolean;
}

/** What evaluate measured. */
export interface EvaluateResult {
  model: string;
  id: string;
  kind: string;
  metrics: Record<string, number>;
  parameters: number;
  bytes: number;
  flopsPerItem: number;
  latencyMs: number;
  /** Test rows whose user or item the model does not know (left out). */
  droppedRows: number;
}

/** Evaluate a model artefact. */
export async function evaluate(opts: EvaluateOptions, deps: CommandDeps = {}): Promise<EvaluateResult> {
  const log = deps.log ?? createLogger({ quiet: opts.quiet || opts.json });
  const { model, users, items, manifest } = loadArtefact(opts.model);
  const recorded = teacherData(manifest as ArtefactManifest);
  if (opts.data === undefined && !recorded) {
    throw new UsageError(`${opts.model}: the artefact does not record its data; give --data`);
  }
  const data = opts.data !== undefined ? dataFromPath(opts.data) : recorded!.data;
  const seed = opts.seed ?? recorded?.seed ?? 0;
  log.info({ model: manifest.id, data: describeData(data) }, "evaluate");
  const dataset = await loadData(data, seed);
  const { interactions, dropped } = alignToIds(dataset, users, items);
  if (dropped > 0) log.warn({ dropped }, "rows with users or items the model does not know were left out");
  const split = leaveOneOut(interactions);
  if (split.test.length === 0) throw new UsageError(`${describeData(data)}: no user has a test item`);
  const seen = buildUserItemIndex(concat(split.train, split.valid), users.size);
  const evaluation = {
    negatives: opts.negatives ?? 499,
    validationNegatives: 99,
    ks: opts.ks ?? [10, 20],
    fullRanking: opts.fullRanking ?? true,
  };
  const histories = buildUserHistories(concat(split.train, split.valid), users.size);
  const metrics = evaluateModel(model, split.test, seen, items.size, evaluation, seed, histories);
  const sized = profile(model, users.size);
  const result: EvaluateResult = {
    model: opts.model,
    id: manifest.id,
    kind: manifest.kind,
    metrics,
    ...sized,
    droppedRows: dropped,
  };
  const print = printerOf(deps);
  if (opts.json) {
    print(JSON.stringify(result, null, 2));
  } else {
    print(`${manifest.id} (${manifest.kind}) on ${describeData(data)}: ${split.test.length} test users`);
    print("");
    print(metricsTable(metrics));
    print("");
    print(
      `parameters ${sized.parameters}  bytes ${sized.bytes}  FLOPs/item ${sized.flopsPerItem}  ` +
        `latency p50 ${sized.latencyMs.toFixed(3)} ms`,
    );
  }
  return result;
}

/** The `evaluate` subcommand. */
export function evaluateCommand(deps: CommandDeps = {}): Command {
  return new Command("evaluate")
    .description("evaluate a model artefact on a dataset's leave-one-out test split (sampled and full ranking)")
    .requiredOption("--model <dir>", "model artefact directory")
    .option("--data <path>", "RecBole dataset directory or interaction file (default: the model's training data)")
    .option("--negatives <n>", "sampled negatives per test user (default 499)", positiveInt)
    .option("--ks <list>", "cut-offs of the @k metrics (default 10,20)", intList)
    .option("--no-full-ranking", "skip the full-catalogue ranking")
    .option("--seed <n>", "seed of the sampled candidates (default: the model's)", positiveInt)
    .option("--json", "print the result as JSON")
    .option("--quiet", "only warnings on stderr")
    .action(async (opts: EvaluateOptions) => {
      await evaluate(opts, deps);
    });
}
