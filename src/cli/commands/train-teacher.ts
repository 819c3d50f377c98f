/**
 * `distillrec train-teacher`: train one teacher with early stopping, evaluate it on test and save it as a
 * model artefact (docs/ARTEFACT.md). Settings come from flags, or from a pipeline config's data,
 * evaluation and teacher (flags override the config).
 */
import { resolve } from "node:path";
import { MODEL_KINDS } from "../../models/zoo.js";
import { Command, Option } from "commander";
import { loadPipelineConfig, type DataConfig, type PipelineConfig, type TrainSettings } from "../../run/config.js";
import { loadData, prepareData } from "../../run/data.js";
import { saveEvaluated } from "../../run/record.js";
import { trainModel } from "../../run/training.js";
import type { ArtefactManifest } from "../../models/artefact.js";
import type { ModelSpec } from "../../models/zoo.js";
import {
  addEvaluationOptions,
  addForceOption,
  addOutputOptions,
  addTrainOptions,
  checkArtefactOutput,
  createLogger,
  dataFromPath,
  dataPath,
  describeData,
  positiveInt,
  printResult,
  specFor,
  trainSettings,
  UsageError,
  type CommandDeps,
  type EvaluationOptions,
  type OutputOptions,
  type TrainOptions,
} from "./common.js";

/** Training settings of `train-teacher` without a config, before its options override them. */
const DEFAULT_TRAIN: TrainSettings = { epochs: 10, batchSize: 1024, lr: 0.002, optimizer: "adam", patience: 3 };

/** Options of `train-teacher` as commander parses them. */
export interface TrainTeacherOptions extends TrainOptions, EvaluationOptions, OutputOptions {
  config?: string;
  teacher?: string;
  data?: string;
  model?: string;
  dim?: number;
  out?: string;
  /** Replace a model artefact already at the output directory. */
  force?: boolean;
}

/** What train-teacher produced. */
export interface TrainTeacherResult {
  out: string;
  manifest: ArtefactManifest;
  metrics: Record<string, number>;
}

/** Train, evaluate and save a teacher. */
export async function trainTeacher(opts: TrainTeacherOptions, deps: CommandDeps = {}): Promise<TrainTeacherResult> {
  const log =
    deps.log ?? createLogger({ quiet: opts.quiet || opts.json, logFormat: opts.logFormat, progress: opts.progress });
  const config: PipelineConfig | undefined = opts.config ? loadPipelineConfig(opts.config) : undefined;
  const fromConfig = config
    ? ((opts.teacher ? config.teachers.find((t) => t.name === opts.teacher) : config.teachers[0]) ??
      failUsage(
        `${opts.config}: no teacher named "${opts.teacher}" (has: ${config.teachers.map((t) => t.name).join(", ")})`,
      ))
    : undefined;
  if (!config && opts.teacher) throw new UsageError("--teacher selects a teacher of --config; give --config too");

  const seed = opts.seed ?? config?.seed ?? 0;
  const data: DataConfig =
    opts.data !== undefined ? dataFromPath(opts.data) : (config?.data ?? dataFromPath(undefined));
  let spec: ModelSpec;
  if (opts.model !== undefined || opts.dim !== undefined || !fromConfig) {
    spec = specFor(opts.model ?? fromConfig?.model.kind ?? "bpr-mf", opts.dim ?? 128, seed);
  } else {
    spec = fromConfig.model;
  }
  const settings = trainSettings(opts, fromConfig?.train ?? DEFAULT_TRAIN);
  const evaluation = {
    negatives: opts.negatives ?? config?.evaluation.negatives ?? 499,
    validationNegatives: config?.evaluation.validationNegatives ?? 99,
    ks: opts.ks ?? config?.evaluation.ks ?? [10, 20],
    fullRanking: opts.fullRanking ?? config?.evaluation.fullRanking ?? true,
  };
  const name = fromConfig?.name ?? `${spec.kind}-teacher`;
  const outDir = opts.out ?? (config ? `${config.output.dir}/models/${name}` : undefined);
  if (!outDir) throw new UsageError("--out <artefact dir> is required (or give --config)");
  const out = resolve(outDir);
  checkArtefactOutput(out, { force: opts.force, inputs: { "--data": dataPath(data), "--config": opts.config } });

  log.info({ data: describeData(data), spec, settings }, "train-teacher");
  const dataset = await loadData(data, seed);
  const prepared = prepareData(dataset);
  const result = await trainModel(prepared, spec, settings, {
    name,
    seed,
    evaluation,
    threads: opts.threads ?? config?.threads,
    log,
    progress: opts.progress ?? !opts.quiet,
  });
  const { manifest, metrics, sized } = saveEvaluated(
    out,
    prepared,
    { model: result.model, spec, result, lineage: { role: "teacher", data, seed, name } },
    evaluation,
    seed,
  );

  printResult(deps, opts, {
    json: { artefact: out, id: manifest.id, metrics, ...sized },
    metrics,
    after: [
      `teacher ${manifest.id}: ${sized.parameters} parameters, best epoch ${result.bestEpoch}`,
      `saved to ${out}`,
    ],
  });
  return { out, manifest, metrics };
}

function failUsage(message: string): never {
  throw new UsageError(message);
}

/** The `train-teacher` subcommand. */
export function trainTeacherCommand(deps: CommandDeps = {}): Command {
  const command = new Command("train-teacher")
    .description("train a teacher model with early stopping, evaluate it on test and save it as a model artefact")
    .option("--config <file>", "pipeline config (JSON or YAML) supplying data, evaluation and the teacher")
    .option("--teacher <name>", "which teacher of --config to train (default: the first)")
    .option("--data <path>", "RecBole dataset directory or interaction file (default: synthetic e-commerce data)")
    .addOption(new Option("--model <kind>", "model to train (default bpr-mf)").choices([...MODEL_KINDS]))
    .option("--dim <n>", "embedding width (default 128)", positiveInt);
  addTrainOptions(command, DEFAULT_TRAIN, "default 0");
  addEvaluationOptions(command, "skip the full-catalogue ranking evaluation").option(
    "--out <dir>",
    "artefact directory to write (required without --config)",
  );
  return addOutputOptions(addForceOption(command)).action(async (opts: TrainTeacherOptions) => {
    await trainTeacher(opts, deps);
  });
}
