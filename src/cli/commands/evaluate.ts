/**
 * `distillrec evaluate`: evaluate a model artefact on the leave-one-out test split of a dataset (by default
 * the data it was trained on) — sampled and full-ranking metrics (beyond accuracy included), segments, task heads,
 * size and latency, and the fidelity to the teacher its lineage names when that teacher can be loaded — beside
 * the popularity reference, as tables or JSON.
 */
import { resolve } from "node:path";
import { Command } from "commander";
import { conversionIndex } from "../../data/labels.js";
import { leaveOneOut } from "../../data/splits.js";
import { alignToIds, loadData, recordedData, sameIds, testSetOf } from "../../run/data.js";
import { evaluateModel, fidelityMetrics, popularityReference, profile } from "../../run/evaluation.js";
import type { PipelineLog } from "../../run/log.js";
import type { ReferenceSummary } from "../../run/summary.js";
import { findTeacherBeside, loadArtefact, type ArtefactManifest, type LoadedArtefact } from "../../models/artefact.js";
import {
  addEvaluationOptions,
  addOutputOptions,
  createLogger,
  dataFromPath,
  describeData,
  nonNegativeInt,
  printResult,
  UsageError,
  type CommandDeps,
  type EvaluationOptions,
  type OutputOptions,
} from "./common.js";
import { testQuality } from "./terminal.js";

/** Options of `evaluate` as commander parses them. */
export interface EvaluateOptions extends EvaluationOptions, Omit<OutputOptions, "progress"> {
  model: string;
  data?: string;
  seed?: number;
  /** The teacher artefact to measure fidelity against (default: the lineage's teacher, found beside the model). */
  teacher?: string;
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
  /** The artefact fidelity was measured against (absent: none was found or given). */
  teacher?: string;
  /** The popularity ranker on the same test set and protocol: what the model's figures are read against. */
  reference: ReferenceSummary;
}

/** Evaluate a model artefact. */
export async function evaluate(opts: EvaluateOptions, deps: CommandDeps = {}): Promise<EvaluateResult> {
  const log = deps.log ?? createLogger({ quiet: opts.quiet || opts.json, logFormat: opts.logFormat });
  const { model, users, items, manifest } = loadArtefact(opts.model);
  const teacher = findTeacher(opts, manifest, log);
  const recorded = recordedData(manifest as ArtefactManifest);
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
  const testSet = testSetOf(split, users.size, items.size, conversionIndex(interactions, users.size));
  const evaluation = {
    negatives: opts.negatives ?? 499,
    validationNegatives: 99,
    ks: opts.ks ?? [10, 20],
    fullRanking: opts.fullRanking ?? true,
  };
  const metrics = evaluateModel(model, testSet, evaluation, seed);
  const comparable = teacher && sameIds(teacher.artefact.users, users) && sameIds(teacher.artefact.items, items);
  if (teacher && !comparable) {
    log.warn({ teacher: teacher.dir }, "the teacher has other user or item ids than the model: no fidelity");
  }
  if (teacher && comparable) Object.assign(metrics, fidelityMetrics(teacher.artefact.model, model, testSet, seed));
  const sized = profile(model, users.size);
  const reference = popularityReference(testSet, evaluation, seed);
  const result: EvaluateResult = {
    model: opts.model,
    id: manifest.id,
    kind: manifest.kind,
    metrics,
    ...sized,
    droppedRows: dropped,
    ...(teacher && comparable ? { teacher: teacher.dir } : {}),
    reference,
  };
  printResult(deps, opts, {
    json: result,
    metrics,
    before: [`${manifest.id} (${manifest.kind}) on ${describeData(data)}: ${split.test.length} test users`],
    after: [
      `parameters ${sized.parameters}  bytes ${sized.bytes}  FLOPs/item ${sized.flopsPerItem}  ` +
        `latency p50 ${sized.latencyMs.toFixed(3)} ms`,
      `reference: ${reference.name} (${reference.description}): ${testQuality(reference.metrics)}`,
    ],
  });
  return result;
}

/**
 * The teacher to measure fidelity against: `--teacher`, else the artefact the lineage names (by id) among the
 * model's sibling directories, where `run` and `distill` put teachers and students; undefined when there is none.
 */
function findTeacher(
  opts: EvaluateOptions,
  manifest: ArtefactManifest,
  log: PipelineLog,
): { dir: string; artefact: LoadedArtefact } | undefined {
  if (opts.teacher !== undefined) return { dir: resolve(opts.teacher), artefact: loadArtefact(opts.teacher) };
  const dir = findTeacherBeside(opts.model, manifest);
  if (dir) return { dir, artefact: loadArtefact(dir) };
  const id = manifest.lineage.teacher;
  if (typeof id !== "string") return undefined;
  log.info({ teacher: id }, "the lineage's teacher is not beside the model: no fidelity (give --teacher)");
  return undefined;
}

/** The `evaluate` subcommand. */
export function evaluateCommand(deps: CommandDeps = {}): Command {
  const command = new Command("evaluate")
    .description(
      "evaluate a model artefact on a dataset's leave-one-out test split (ranking, segments, task heads, fidelity)",
    )
    .requiredOption("--model <dir>", "model artefact directory")
    .option("--data <path>", "RecBole dataset directory or interaction file (default: the model's training data)");
  addEvaluationOptions(command, "skip the full-catalogue ranking")
    .option("--seed <n>", "seed of the sampled candidates (default: the model's)", nonNegativeInt)
    .option("--teacher <dir>", "teacher artefact for fidelity (default: the lineage's teacher, if beside the model)");
  return addOutputOptions(command, { progress: false }).action(async (opts: EvaluateOptions) => {
    await evaluate(opts, deps);
  });
}
