/**
 * `distillrec run`: the whole pipeline of a config file (default: the built-in synthetic pipeline) —
 * teachers, soft labels, the student alone and with every distillation method — ending with model
 * artefacts, summary.json and an HTML report, whose locations it prints.
 */
import { existsSync } from "node:fs";
import { Command } from "commander";
import { defaultPipelineConfig, loadPipelineConfig, type PipelineConfig } from "../../run/config.js";
import { runPipeline } from "../../run/pipeline.js";
import { pipelinePaths } from "../../run/record.js";
import type { RunSummary } from "../../run/summary.js";
import {
  addOutputOptions,
  checkRunOutput,
  count,
  createLogger,
  dataPath,
  positiveInt,
  printerOf,
  type CommandDeps,
  type OutputOptions,
} from "./common.js";
import { HumanLog, percent } from "./terminal.js";

/** Options of `run` as commander parses them. */
export interface RunOptions extends OutputOptions {
  config?: string;
  out?: string;
  threads?: number;
}

/** The config a `run` invocation uses: the file's (or the default one) with the command-line overrides. */
export function runConfig(opts: RunOptions): PipelineConfig {
  const config = opts.config ? loadPipelineConfig(opts.config) : defaultPipelineConfig();
  if (opts.out !== undefined) config.output.dir = opts.out;
  if (opts.threads !== undefined) config.threads = opts.threads;
  return config;
}

/** Run a pipeline and print where its outputs are. */
export async function run(opts: RunOptions, deps: CommandDeps = {}): Promise<RunSummary> {
  const config = runConfig(opts);
  const paths = pipelinePaths(config);
  checkRunOutput(paths, { "--config": opts.config, data: dataPath(config.data) });
  // For people, the JSON log is kept in the run's directory.
  const log =
    deps.log ??
    createLogger({
      quiet: opts.quiet || opts.json,
      logFormat: opts.logFormat,
      progress: opts.progress,
      file: paths.log,
    });
  const summary = await runPipeline(config, { log, progress: opts.progress ?? !opts.quiet });
  const print = printerOf(deps);
  if (opts.json) {
    print(
      JSON.stringify(
        {
          ...paths,
          models: summary.models.map((m) => ({ name: m.name, artefact: m.artefact })),
          ...(summary.failures ? { failures: summary.failures } : {}),
        },
        null,
        2,
      ),
    );
    return summary;
  }
  const references = summary.references ?? [];
  const width = Math.max(...[...summary.models, ...references].map((m) => m.name.length));
  print(`run "${summary.name}": ${summary.models.length} models on ${summary.dataset.name}`);
  // NDCG@10 and the catalogue coverage of the top 10 (full ranking when measured), side by side.
  const quality = (metrics: Record<string, number>) => {
    const ndcg = metrics["full:NDCG@10"] ?? metrics["NDCG@10"];
    const coverage = metrics["full:Coverage@10"];
    return (
      `NDCG@10 ${ndcg === undefined ? "–" : ndcg.toFixed(4)}  ` +
      `cov@10 ${(coverage === undefined ? "–" : percent(coverage)).padStart(6)}`
    );
  };
  for (const m of summary.models) {
    print(
      `  ${m.name.padEnd(width)}  ${m.role.padEnd(10)}  ${quality(m.metrics)}  ` +
        `${count(m.parameters).padStart(9)} params  ${count(m.fileBytes ?? m.bytes).padStart(11)} bytes  ${m.artefact ?? ""}`,
    );
  }
  for (const r of references) print(`  ${r.name.padEnd(width)}  ${"reference".padEnd(10)}  ${quality(r.metrics)}`);
  for (const f of summary.failures ?? []) print(`  ${f.model.padEnd(width)}  FAILED: ${f.message}`);
  print(`report   ${paths.report}`);
  print(`summary  ${paths.summary}`);
  print(`models   ${paths.models}`);
  if (log instanceof HumanLog && existsSync(paths.log)) print(`log      ${paths.log}`);
  return summary;
}

/** The `run` subcommand. */
export function runCommand(deps: CommandDeps = {}): Command {
  const command = new Command("run")
    .description(
      "run the whole pipeline: train teachers, distil students with every method, save artefacts and a report",
    )
    .option("--config <file>", "pipeline config, JSON or YAML (default: the built-in synthetic pipeline)")
    .option(
      "--out <dir>",
      "output directory: new, empty or an earlier run's, whose artefacts are replaced (default: the config's output.dir, runs/<name>)",
    )
    .option("--threads <n>", "training threads (default: the config's, else every core)", positiveInt);
  return addOutputOptions(command, { json: "print the output locations as JSON", progress: "no progress bars" }).action(
    async (opts: RunOptions) => {
      await run(opts, deps);
    },
  );
}
