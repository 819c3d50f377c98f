/**
 * `distillrec distill`: train a student from a teacher artefact with one distillation method, evaluate it
 * (with its fidelity to the teacher) and save it as an artefact whose lineage names the teacher. The data
 * defaults to the data the teacher was trained on (recorded in its manifest); it must have the teacher's
 * user and item ids.
 */
import { dirname, join, resolve } from "node:path";
import { MODEL_KINDS } from "../../models/zoo.js";
import { Command, Option } from "commander";
import { METHOD_PRESETS, type TrainSettings } from "../../run/config.js";
import { hasSoftTerms, needsSoftLabels } from "../../distill/program.js";
import { loadData, prepareData, recordedData, sameIds } from "../../run/data.js";
import { saveEvaluated } from "../../run/record.js";
import { softLabelOptions, teacherSoftLabels } from "../../run/soft-labels.js";
import { trainModel } from "../../run/training.js";
import { loadArtefact, type ArtefactManifest } from "../../models/artefact.js";
import {
  addForceOption,
  addOutputOptions,
  addTrainOptions,
  checkArtefactOutput,
  createLogger,
  dataFromPath,
  dataPath,
  describeData,
  nonNegativeInt,
  positiveInt,
  printResult,
  specFor,
  trainSettings,
  UsageError,
  type CommandDeps,
  type OutputOptions,
  type TrainOptions,
} from "./common.js";

/** Distillation methods `--method` accepts. */
export const DISTILL_METHODS = Object.keys(METHOD_PRESETS);

/** Training settings of `distill` before its options override them. */
const DEFAULT_TRAIN: TrainSettings = { epochs: 10, batchSize: 1024, lr: 0.003, optimizer: "adam", patience: 3 };

/** Options of `distill` as commander parses them. */
export interface DistillOptions extends TrainOptions, OutputOptions {
  teacher: string;
  student?: string;
  dim?: number;
  method?: string;
  data?: string;
  topK?: number;
  labelNegatives?: number;
  out?: string;
  /** Replace a model artefact already at the output directory. */
  force?: boolean;
}

/** What distill produced. */
export interface DistillResult {
  out: string;
  manifest: ArtefactManifest;
  metrics: Record<string, number>;
}

/** Distil a student from a teacher artefact. */
export async function distill(opts: DistillOptions, deps: CommandDeps = {}): Promise<DistillResult> {
  const log =
    deps.log ?? createLogger({ quiet: opts.quiet || opts.json, logFormat: opts.logFormat, progress: opts.progress });
  const method = opts.method ?? "listwise";
  const weights = METHOD_PRESETS[method];
  if (!weights) throw new UsageError(`unknown method "${method}" (known: ${DISTILL_METHODS.join(", ")})`);
  const teacher = loadArtefact(opts.teacher);
  const recorded = recordedData(teacher.manifest);
  if (opts.data === undefined && !recorded) {
    throw new UsageError(`${opts.teacher}: the teacher does not record its data; give --data`);
  }
  const data = opts.data !== undefined ? dataFromPath(opts.data) : recorded!.data;
  const seed = opts.seed ?? recorded?.seed ?? 0;
  const spec = specFor(opts.student ?? "two-tower", opts.dim ?? 16, seed + 1);
  const settings = trainSettings(opts, DEFAULT_TRAIN);
  const evaluation = { negatives: 499, validationNegatives: 99, ks: [10, 20], fullRanking: true };
  const name = `student-${method}`;
  const out = resolve(opts.out ?? join(dirname(resolve(opts.teacher)), name));
  checkArtefactOutput(out, { force: opts.force, inputs: { "--teacher": opts.teacher, "--data": dataPath(data) } });

  log.info({ teacher: teacher.manifest.id, data: describeData(data), spec, method, weights }, "distill");
  const dataset = await loadData(data, seed);
  if (!sameIds(dataset.users, teacher.users) || !sameIds(dataset.items, teacher.items)) {
    throw new UsageError(
      `${describeData(data)} does not have the teacher's ids (${dataset.users.size} users and ${dataset.items.size} ` +
        `items vs ${teacher.users.size} and ${teacher.items.size}, or in another order): distil on the teacher's data`,
    );
  }
  const prepared = prepareData(dataset);
  const labelSettings = { negatives: opts.labelNegatives ?? 100, topK: opts.topK ?? 10, positivesPerUser: 1 };
  const softLabels = needsSoftLabels(weights)
    ? teacherSoftLabels(teacher.model, softLabelOptions(prepared, labelSettings, { seed }), {
        log,
        requestedNegatives: labelSettings.negatives,
      })
    : undefined;
  const result = await trainModel(prepared, spec, settings, {
    name,
    seed,
    evaluation,
    threads: opts.threads,
    weights,
    softLabels,
    teacher: teacher.model,
    log,
    progress: opts.progress ?? !opts.quiet,
  });
  const { manifest, metrics, sized } = saveEvaluated(
    out,
    prepared,
    {
      model: result.model,
      spec,
      result,
      lineage: {
        role: hasSoftTerms(weights) ? "distilled" : "student",
        teacher: teacher.manifest.id,
        method,
        data,
        seed,
      },
      teacher: teacher.model,
    },
    evaluation,
    seed,
  );

  const teacherNdcg = teacher.manifest.metrics["NDCG@10"];
  const ratio = teacher.manifest.parameters / Math.max(1, sized.parameters);
  printResult(deps, opts, {
    json: { artefact: out, id: manifest.id, teacher: teacher.manifest.id, metrics, ...sized },
    metrics,
    after: [
      `student ${manifest.id} (${method}): ${sized.parameters} parameters, ${ratio.toFixed(1)}× smaller than ` +
        `teacher ${teacher.manifest.id}` +
        (teacherNdcg === undefined ? "" : ` (teacher NDCG@10 ${teacherNdcg.toFixed(4)})`),
      `saved to ${out}`,
    ],
  });
  return { out, manifest, metrics };
}

/** The `distill` subcommand. */
export function distillCommand(deps: CommandDeps = {}): Command {
  const command = new Command("distill")
    .description("distil a teacher artefact into a small student with one method, evaluate and save it")
    .requiredOption("--teacher <dir>", "teacher model artefact directory")
    .addOption(new Option("--student <kind>", "student model (default two-tower)").choices([...MODEL_KINDS]))
    .option("--dim <n>", "student width (default 16)", positiveInt)
    .addOption(new Option("--method <name>", "distillation method (default listwise)").choices(DISTILL_METHODS))
    .option("--data <path>", "dataset (default: the data the teacher was trained on)");
  addTrainOptions(command, DEFAULT_TRAIN, "default: the teacher's")
    .option("--top-k <n>", "teacher top-K items per user in the soft labels (default 10)", nonNegativeInt)
    .option("--label-negatives <n>", "sampled negatives per user in the soft labels (default 100)", nonNegativeInt)
    .option("--out <dir>", "student artefact directory (default: student-<method> next to the teacher)");
  return addOutputOptions(addForceOption(command)).action(async (opts: DistillOptions) => {
    await distill(opts, deps);
  });
}
