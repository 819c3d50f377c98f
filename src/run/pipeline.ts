/**
 * The whole pipeline as a library function (`distillrec run`), one stage after another: load or generate
 * the data and split it leave-one-out (data.ts); train every teacher and keep the best by validation
 * (teachers.ts); generate its soft labels, cached (soft-labels.ts); train the student alone and under every
 * distillation method, optionally through a teacher assistant (students.ts); compress the best student
 * (compress-stage.ts). Every model is evaluated on test, measured against the teacher, profiled and saved as
 * an artefact as it is trained (record.ts, evaluation.ts), the popularity reference with the same protocol
 * first; the earlier run's models this run did not make again are removed (run-dir.ts), and summary.json
 * and report.html come last.
 */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { compressionStage } from "./compress-stage.js";
import type { PipelineConfig } from "./config.js";
import { dataStage } from "./data.js";
import { popularityReference, protocolText } from "./evaluation.js";
import { roundAll, silent, type PipelineOptions } from "./log.js";
import { pipelinePaths, RunRecord, type StageContext } from "./record.js";
import { writeReport } from "./report.js";
import { removeEarlierRunModels } from "./run-dir.js";
import { softLabelStage } from "./soft-labels.js";
import { assistantStage, studentStage } from "./students.js";
import { writeSummary, type RunSummary } from "./summary.js";
import { teacherStage } from "./teachers.js";

/** Run the whole pipeline of `config`; returns the run summary (also written to summary.json). */
export async function runPipeline(config: PipelineConfig, options: PipelineOptions = {}): Promise<RunSummary> {
  const log = options.log ?? silent;
  const paths = pipelinePaths(config);
  mkdirSync(paths.models, { recursive: true });
  const { seed, evaluation } = config;
  const threads = config.threads ?? availableParallelism();

  const prepared = await dataStage(config.data, seed, log, config.split);
  // The reference row every model is read against: cheap, and independent of the models.
  const popularity = popularityReference(prepared.testSet, evaluation, seed);
  log.info({ model: popularity.name, ...roundAll(popularity.metrics) }, "reference evaluated");
  const record = new RunRecord({ config, paths, prepared, evaluation, log });
  const common = { seed, evaluation, threads, log, progress: options.progress };
  const stage: StageContext = { config, prepared, record, paths, common, log };

  const { best: teacher, teachers } = await teacherStage(stage);
  const labels = softLabelStage(config, prepared, teacher, paths.softLabels, log, teachers);
  await studentStage(stage, teacher, labels.labels);
  await assistantStage(stage, teacher, labels);
  await compressionStage(stage, teacher, labels.labels);

  const { dataset, context } = prepared;
  const summary: RunSummary = {
    name: config.name,
    createdAt: new Date().toISOString(),
    dataset: {
      name: dataset.name,
      users: context.numUsers,
      items: context.numItems,
      interactions: dataset.interactions.length,
    },
    protocol: protocolText(evaluation, config.split),
    models: record.models,
    references: [popularity],
    ...(record.failures.length ? { failures: record.failures } : {}),
  };
  // Before the summary is written: the earlier run's summary says which models were its own.
  removeEarlierRunModels(
    paths,
    record.models.map((m) => m.name),
    log,
  );
  writeSummary(paths.summary, summary);
  await writeReport(paths.report, summary);
  log.info({ summary: paths.summary, report: paths.report, models: paths.models }, "done");
  return summary;
}
