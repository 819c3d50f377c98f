/**
 * `distillrec compress`: compress a model artefact step by step (fp16 or int8 storage, magnitude
 * pruning, low-rank factors), evaluating after each step and undoing any step that costs more validation
 * NDCG@10 than the budget allows; prints size, quality and latency after every step and saves the result
 * as an ordinary artefact.
 */
import { dirname, join, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { compressArtefact, type CompressArtefactResult } from "../../run/compress-artefact.js";
import { parseSteps, type CompressionStep, type StepReport } from "../../run/compression.js";
import {
  addForceOption,
  addOutputOptions,
  checkArtefactOutput,
  count,
  createLogger,
  dataFromPath,
  dataPath,
  formatTable,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  printResult,
  UsageError,
  type CommandDeps,
  type OutputOptions,
} from "./common.js";

/** The default schedule: int8 storage, then half the weights pruned and fine-tuned, then low-rank factors. */
export const DEFAULT_STEPS = "fp16,int8,prune:0.5,lowrank:0.9";

export interface CompressOptions extends OutputOptions {
  model: string;
  teacher?: string;
  data?: string;
  steps?: string;
  budget?: number;
  onExceed?: "rollback" | "stop";
  fineTuneEpochs?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  out?: string;
  /** Replace a model artefact already at the output directory. */
  force?: boolean;
}

/** The step table: size (and ratio to the teacher), validation and test NDCG@10, latency, status. */
export function stepsTable(result: Pick<CompressArtefactResult, "steps" | "teacher">): string {
  const teacherBytes = result.teacher?.bytes;
  const ratio = (bytes: number) => (teacherBytes ? `${(teacherBytes / bytes).toFixed(1)}×` : "–");
  const row = (s: StepReport) => [
    s.step,
    s.status,
    count(s.bytes),
    ratio(s.bytes),
    s.validation.toFixed(4),
    `${(-s.drop * 100).toFixed(1)}%`,
    (s.test["NDCG@10"] ?? NaN).toFixed(4),
    s.latencyMs.toFixed(3),
  ];
  const teacherRow = result.teacher
    ? [
        [
          `teacher ${result.teacher.id}`,
          "",
          count(result.teacher.bytes),
          "1.0×",
          "",
          "",
          (result.teacher.test["NDCG@10"] ?? NaN).toFixed(4),
          result.teacher.latencyMs.toFixed(3),
        ],
      ]
    : [];
  return formatTable(
    ["step", "status", "weights bytes", "vs teacher", "valid NDCG@10", "change", "test NDCG@10", "p50 ms"],
    [...teacherRow, ...result.steps.map(row)],
    [false, false, true, true, true, true, true, true],
  ).join("\n");
}

/** Compress a model artefact. */
export async function compressCommandAction(
  opts: CompressOptions,
  deps: CommandDeps = {},
): Promise<CompressArtefactResult> {
  const log =
    deps.log ?? createLogger({ quiet: opts.quiet || opts.json, logFormat: opts.logFormat, progress: opts.progress });
  let steps: CompressionStep[];
  try {
    steps = parseSteps(opts.steps ?? DEFAULT_STEPS, opts.fineTuneEpochs ?? 2);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const out = resolve(opts.out ?? join(dirname(resolve(opts.model)), `${basename(opts.model)}-compressed`));
  const data = opts.data === undefined ? undefined : dataFromPath(opts.data);
  checkArtefactOutput(out, {
    force: opts.force,
    inputs: { "--model": opts.model, "--teacher": opts.teacher, "--data": data && dataPath(data) },
  });
  const result = await compressArtefact({
    model: opts.model,
    ...(opts.teacher === undefined ? {} : { teacher: opts.teacher }),
    ...(data === undefined ? {} : { data }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    steps,
    budget: opts.budget ?? 0.02,
    onExceed: opts.onExceed ?? "rollback",
    out,
    ...(opts.lr === undefined ? {} : { fineTune: { lr: opts.lr } }),
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    log,
    progress: opts.progress ?? !opts.quiet,
  });
  const start = result.steps[0]!;
  const final = result.manifest.files["weights.bin"].bytes;
  printResult(deps, opts, {
    json: {
      artefact: out,
      id: result.manifest.id,
      teacher: result.teacher,
      steps: result.steps,
      metrics: result.metrics,
    },
    metrics: result.metrics,
    before: [stepsTable(result)],
    after: [
      `compressed ${result.manifest.id}: weights ${count(final)} bytes, ${(start.bytes / final).toFixed(1)}× smaller ` +
        `than the model` +
        (result.teacher ? `, ${(result.teacher.bytes / final).toFixed(1)}× smaller than the teacher` : ""),
      `saved to ${out}`,
    ],
  });
  return result;
}

function basename(path: string): string {
  return resolve(path).split(/[\\/]/).at(-1)!;
}

/** The `compress` subcommand. */
export function compressCommand(deps: CommandDeps = {}): Command {
  const command = new Command("compress")
    .description(
      "compress a model artefact step by step (fp16, int8, pruning, low-rank), within a quality budget, and save it",
    )
    .requiredOption("--model <dir>", "model artefact directory (typically a distilled student)")
    .option("--teacher <dir>", "teacher artefact for fine-tuning and fidelity (default: the lineage's, if beside)")
    .option("--data <path>", "dataset (default: the data the model was trained on)")
    .option(
      "--steps <list>",
      `steps in order: fp16, int8, prune:<sparsity>[:weights|columns|rows], lowrank:<energy> or lowrank:r<rank> (default ${DEFAULT_STEPS})`,
    )
    .option(
      "--budget <fraction>",
      "largest relative drop of validation NDCG@10 a step may leave (default 0.02)",
      budget,
    )
    .addOption(
      new Option("--on-exceed <action>", "when a step exceeds the budget: undo it and go on, or undo it and stop")
        .choices(["rollback", "stop"])
        .default("rollback"),
    )
    .option(
      "--fine-tune-epochs <n>",
      "epochs of distillation after pruning and low-rank steps (default 2)",
      nonNegativeInt,
    )
    .option("--lr <rate>", "fine-tuning learning rate (default 0.001)", positiveNumber)
    .option("--seed <n>", "random seed (default: the model's)", nonNegativeInt)
    .option("--threads <n>", "training threads (default: every core)", positiveInt)
    .option("--out <dir>", "compressed artefact directory (default: <model>-compressed beside the model)");
  return addOutputOptions(addForceOption(command)).action(async (opts: CompressOptions) => {
    await compressCommandAction(opts, deps);
  });
}

function budget(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError("must be a fraction in [0, 1)");
  return n;
}
