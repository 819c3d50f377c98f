/**
 * What the pipeline commands (train-teacher, distill, evaluate, run) share: the user-error type main.ts
 * reports without a stack trace, option parsers and definitions, data-source resolution, the logger, metric
 * tables and result printing.
 */
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, resolve, sep } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { pino } from "pino";
import type { DataConfig, TrainSettings } from "../../run/config.js";
import { TABLE_UPDATES, type TableUpdates } from "../../engine/optim.js";
import { LOSS_REDUCTIONS, type LossReduction } from "../../train/program.js";
import {
  NEGATIVE_SAMPLERS,
  SEQUENCE_LOSSES,
  type NegativeSampler,
  type SequenceLossKind,
} from "../../train/sequence.js";
import { artefactTarget } from "../../models/artefact.js";
import { MODEL_KINDS, isModelKind, specOfWidth, type ModelSpec } from "../../models/zoo.js";
import type { PipelineLog } from "../../run/log.js";
import type { RunPaths } from "../../run/record.js";
import { isTaskMetric } from "../../run/report.js";
import { BEYOND_ACCURACY_METRICS, FIDELITY_PREFIX, FULL_RANKING_PREFIX, SEGMENT_PREFIX } from "../../run/summary.js";
import { defaultLogFormat, HumanLog, LOG_FORMATS, type LogFormat } from "./terminal.js";

/**
 * A mistake in how a command was used (bad option, missing file, mismatched artefacts): main.ts prints
 * its message alone, without a stack trace, and exits with code 2.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Options every pipeline command accepts for logging. */
export interface LogOptions {
  quiet?: boolean;
  verbose?: boolean;
  /** "human" (lines and bars) or "json" (pino on stderr); default human when stdout is a terminal. */
  logFormat?: LogFormat;
  /** With the human format: where the JSON log is kept (a run's run.log); default nowhere. */
  file?: string;
  /** With the human format: false hides the progress bars (--no-progress). */
  progress?: boolean;
}

/** Dependencies a command can be given (tests pass a silent logger). */
export interface CommandDeps {
  /** Where progress logs go; default a pino logger on stderr. */
  log?: PipelineLog;
  /** Where results are printed; default stdout. */
  print?: (text: string) => void;
}

/**
 * The log of a command: for people (terminal.ts HumanLog: short lines, progress bars, the JSON in `file`),
 * or a pino logger on stderr ("warn" with --quiet, "debug" with --verbose, else "info").
 */
export function createLogger(options: LogOptions = {}): PipelineLog {
  if ((options.logFormat ?? defaultLogFormat()) === "human") {
    return new HumanLog({
      ...(options.file === undefined ? {} : { file: options.file }),
      ...(options.quiet ? { quiet: true } : {}),
      bars: options.progress !== false,
    });
  }
  const level = options.quiet ? "warn" : options.verbose ? "debug" : "info";
  // Synchronous: training keeps the event loop busy for minutes, and buffered lines would arrive late.
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
}

/** The training options of train-teacher and distill as commander parses them. */
export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  tableUpdates?: TableUpdates;
  lossReduction?: LossReduction;
  l2?: number;
  sequenceLoss?: SequenceLossKind;
  sequenceNegatives?: number;
  sequenceSampler?: NegativeSampler;
  patience?: number;
  seed?: number;
  threads?: number;
}

/** The evaluation options of train-teacher and evaluate as commander parses them. */
export interface EvaluationOptions {
  negatives?: number;
  ks?: number[];
  fullRanking?: boolean;
}

/** The output options of the pipeline commands as commander parses them. */
export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  progress?: boolean;
  logFormat?: LogFormat;
}

/**
 * Adds --epochs, --batch-size, --lr, --weight-decay, --table-updates, --loss-reduction, --l2, --sequence-loss,
 * --sequence-negatives, --sequence-sampler, --patience,
 * --seed and --threads. The help names the command's own
 * defaults, which trainSettings applies, so the two cannot drift apart.
 */
export function addTrainOptions(command: Command, defaults: TrainSettings, seedDefault: string): Command {
  return command
    .option("--epochs <n>", `maximum epochs (default ${defaults.epochs})`, nonNegativeInt)
    .option("--batch-size <n>", `samples per step (default ${defaults.batchSize})`, positiveInt)
    .option("--lr <rate>", `learning rate (default ${defaults.lr})`, positiveNumber)
    .option(
      "--weight-decay <wd>",
      `the optimiser's weight decay, against the loss as --loss-reduction reduces it (default ${defaults.weightDecay ?? 0})`,
      nonNegativeNumber,
    )
    .addOption(
      new Option("--table-updates <how>", "embedding tables: the batch's rows only, or every row every step").choices([
        ...TABLE_UPDATES,
      ]),
    )
    .addOption(
      new Option(
        "--loss-reduction <how>",
        "the optimiser follows the batch's mean loss, or its sum (as PyTorch code)",
      ).choices([...LOSS_REDUCTIONS]),
    )
    .option(
      "--l2 <weight>",
      "L2 on the batch's user and item vectors, the BPR papers' (dot-product models)",
      nonNegativeNumber,
    )
    .addOption(
      new Option(
        "--sequence-loss <loss>",
        "sequence models (sasrec): next-item loss per position (default bce)",
      ).choices([...SEQUENCE_LOSSES]),
    )
    .option("--sequence-negatives <n>", "shared negatives per batch of the sampled softmax (default 100)", positiveInt)
    .addOption(
      new Option(
        "--sequence-sampler <how>",
        "where the sampled softmax draws its negatives: by training popularity, logQ-corrected (default), or uniformly",
      ).choices([...NEGATIVE_SAMPLERS]),
    )
    .option("--patience <n>", `epochs without improvement before stopping (default ${defaults.patience})`, positiveInt)
    .option("--seed <n>", `random seed (${seedDefault})`, nonNegativeInt)
    .option("--threads <n>", "training threads (default: every core)", positiveInt);
}

/** The training settings: the base (a command's defaults or a config's) with the options given overriding it. */
export function trainSettings(opts: TrainOptions, base: TrainSettings): TrainSettings {
  return {
    ...base,
    ...(opts.epochs === undefined ? {} : { epochs: opts.epochs }),
    ...(opts.batchSize === undefined ? {} : { batchSize: opts.batchSize }),
    ...(opts.lr === undefined ? {} : { lr: opts.lr }),
    ...(opts.weightDecay === undefined ? {} : { weightDecay: opts.weightDecay }),
    ...(opts.tableUpdates === undefined ? {} : { tableUpdates: opts.tableUpdates }),
    ...(opts.lossReduction === undefined ? {} : { lossReduction: opts.lossReduction }),
    ...(opts.l2 === undefined ? {} : { l2: opts.l2 }),
    ...(opts.sequenceLoss === undefined ? {} : { sequenceLoss: opts.sequenceLoss }),
    ...(opts.sequenceNegatives === undefined ? {} : { sequenceNegatives: opts.sequenceNegatives }),
    ...(opts.sequenceSampler === undefined ? {} : { sequenceSampler: opts.sequenceSampler }),
    ...(opts.patience === undefined ? {} : { patience: opts.patience }),
  };
}

/** Adds --negatives, --ks and --no-full-ranking (whose help each command words for what it skips). */
export function addEvaluationOptions(command: Command, fullRankingHelp: string): Command {
  return command
    .option("--negatives <n>", "sampled negatives per test user (default 499)", positiveInt)
    .option("--ks <list>", "cut-offs of the @k metrics (default 10,20)", intList)
    .option("--no-full-ranking", fullRankingHelp);
}

/** Adds --json, --quiet, --log-format and, unless progress is false (nothing to show one for), --no-progress. */
export function addOutputOptions(
  command: Command,
  {
    json = "print the result as JSON",
    progress = "no progress bar",
  }: { json?: string; progress?: string | false } = {},
): Command {
  command
    .option("--json", json)
    .option("--quiet", "only warnings on stderr")
    .addOption(
      new Option("--log-format <format>", "human lines and bars, or JSON log lines on stderr")
        .choices(LOG_FORMATS)
        .default(defaultLogFormat(), "human on a terminal, else json"),
    );
  return progress === false ? command : command.option("--no-progress", progress);
}

/** Commander parser for a positive integer option. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** Commander parser for a non-negative integer option. */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

/** Commander parser for a positive number option. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError("must be a positive number");
  return n;
}

/** Commander parser for a non-negative number option. */
export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0)) throw new InvalidArgumentError("must be a non-negative number");
  return n;
}

/** Commander parser for a comma-separated list of positive integers ("10,20"). */
export function intList(value: string): number[] {
  const list = value.split(",").map((v) => Number(v.trim()));
  if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n > 0)) {
    throw new InvalidArgumentError("must be comma-separated positive integers, e.g. 10,20");
  }
  return list;
}

/**
 * The data config of `--data <path>`: a RecBole dataset (a directory, a `.inter` file or a prefix with
 * one) or an interaction file of any supported format. Without a path: the built-in synthetic shop.
 */
export function dataFromPath(path: string | undefined): DataConfig {
  if (path === undefined) return { kind: "synthetic" };
  const absolute = resolve(path);
  if (existsSync(absolute) && statSync(absolute).isDirectory()) return { kind: "recbole", path: absolute };
  // A RecBole prefix names `<prefix>.inter`, which need not exist itself.
  if (existsSync(`${absolute}.inter`)) return { kind: "recbole", path: absolute };
  if (!existsSync(absolute)) throw new UsageError(`--data ${path}: no such file or directory`);
  return { kind: absolute.endsWith(".inter") ? "recbole" : "file", path: absolute };
}

/** Adds --force: an existing model artefact at --out may be replaced (nothing else ever is). */
export function addForceOption(command: Command): Command {
  return command.option("--force", "replace a model artefact already at --out (never a file or another directory)");
}

/** The paths a command reads, by what they are ("--data", "--teacher", …), to keep --out off them. */
export type Inputs = Record<string, string | undefined>;

/** The path of a data config, when it reads one. */
export function dataPath(data: DataConfig): string | undefined {
  return data.kind === "synthetic" ? undefined : data.path;
}

/**
 * Refuses, before any work is done, an artefact output that would replace what the command did not write:
 * one of its inputs, a file, a symbolic link or a directory that is not a model artefact; and an existing
 * artefact unless `force`. (saveArtefact checks the first kinds again when it saves.)
 */
export function checkArtefactOutput(out: string, { force, inputs }: { force?: boolean; inputs: Inputs }): void {
  refuseInputs(`--out ${out}`, out, inputs);
  const target = artefactTarget(out);
  if (target.kind === "other") {
    throw new UsageError(
      `--out ${out}: ${target.what}; only a model artefact or an empty directory is replaced, give another path`,
    );
  }
  if (target.kind === "artefact" && !force) {
    throw new UsageError(`--out ${out}: a model artefact is already there; --force replaces it`);
  }
}

/**
 * Refuses, before any work is done, a run output directory that holds anything a run does not write (its
 * models directory, soft-label cache, summary and report, and their temporary files). A run's own directory
 * is accepted, so that a run re-run into it replaces the artefacts it wrote.
 */
export function checkRunOutput(paths: RunPaths, inputs: Inputs): void {
  const named = `output directory ${paths.dir}`;
  refuseInputs(named, paths.dir, inputs);
  if (!existsSync(paths.dir)) return;
  if (!statSync(paths.dir).isDirectory()) throw new UsageError(`${named}: a file, not a run directory`);
  const own = [paths.models, paths.softLabels, paths.summary, paths.report, paths.log].map((p) => basename(p));
  // writeFileAtomic's `<file>.tmp`, left by a run that was killed while writing.
  const ours = new Set([...own, ...own.map((name) => `${name}.tmp`)]);
  const foreign = readdirSync(paths.dir).filter((name) => !ours.has(name));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, … (${foreign.length} in all)` : "");
    throw new UsageError(
      `${named}: not a run directory (it holds ${shown}); give a new or empty directory, or an earlier run's`,
    );
  }
}

/** A UsageError (beginning with `named`) when `out` is one of the inputs (after resolving links), or holds one. */
function refuseInputs(named: string, out: string, inputs: Inputs): void {
  const target = canonical(out);
  for (const [flag, input] of Object.entries(inputs)) {
    if (input === undefined) continue;
    const path = canonical(input);
    if (path === target || path.startsWith(`${target}${sep}`)) {
      const relation = path === target ? "is" : "holds";
      throw new UsageError(`${named}: ${relation} the input ${flag} ${input}; write the output elsewhere`);
    }
  }
}

/** The absolute path with symbolic links resolved (as far as it exists). */
function canonical(path: string): string {
  const absolute = resolve(path);
  return existsSync(absolute) ? realpathSync(absolute) : absolute;
}

/** A short description of a data config, for messages. */
export function describeData(data: DataConfig): string {
  return data.kind === "synthetic" ? "synthetic e-commerce data" : `${data.kind} data at ${data.path}`;
}

/** Whether a metric name (its prefix taken off) is a beyond-accuracy one ("Coverage@10"). */
function isBeyondAccuracy(name: string): boolean {
  return (BEYOND_ACCURACY_METRICS as readonly string[]).includes(name.slice(0, name.indexOf("@")));
}

/**
 * A table of metrics: one row per accuracy metric name (sorted by k, then name), one column for sampled and one
 * for full-ranking values.
 */
export function metricsTable(metrics: Record<string, number>): string {
  const names = new Set<string>();
  for (const key of Object.keys(metrics)) {
    const name = key.startsWith(FULL_RANKING_PREFIX) ? key.slice(FULL_RANKING_PREFIX.length) : key;
    if (name.includes(":") || name === "count" || name === "bestEpoch" || isBeyondAccuracy(name)) continue;
    names.add(name);
  }
  const order = (name: string) => {
    const at = name.indexOf("@");
    return at < 0 ? [Infinity, name] : [Number(name.slice(at + 1)), name.slice(0, at)];
  };
  const sorted = [...names].sort((a, b) => {
    const [ka, na] = order(a) as [number, string];
    const [kb, nb] = order(b) as [number, string];
    return ka - kb || na.localeCompare(nb);
  });
  const hasFull = Object.keys(metrics).some((k) => k.startsWith(FULL_RANKING_PREFIX));
  const rows = sorted.map((name) => [
    name,
    fmt(metrics[name]),
    ...(hasFull ? [fmt(metrics[`${FULL_RANKING_PREFIX}${name}`])] : []),
  ]);
  return table(["metric", "sampled", ...(hasFull ? ["full ranking"] : [])], rows);
}

function fmt(value: number | undefined): string {
  return value === undefined ? "–" : value.toFixed(4);
}

/** The ranking table followed by the beyond-accuracy table and the breakdown tables (segments, task heads, fidelity). */
export function metricsReport(metrics: Record<string, number>): string {
  return [metricsTable(metrics), beyondAccuracyTable(metrics), breakdownTables(metrics)]
    .filter((t) => t !== "")
    .join("\n\n");
}

/** The full ranking's beyond-accuracy metrics, one row per k ("top 10"); empty when there are none. */
export function beyondAccuracyTable(metrics: Record<string, number>): string {
  const ks = new Set<string>();
  for (const key of Object.keys(metrics)) {
    const name = key.slice(FULL_RANKING_PREFIX.length);
    if (key.startsWith(FULL_RANKING_PREFIX) && isBeyondAccuracy(name)) ks.add(name.slice(name.indexOf("@") + 1));
  }
  if (ks.size === 0) return "";
  const rows = [...ks].map((k) => [
    `top ${k}`,
    ...BEYOND_ACCURACY_METRICS.map((name) => fmt(metrics[`${FULL_RANKING_PREFIX}${name}@${k}`])),
  ]);
  return table(["beyond accuracy", ...BEYOND_ACCURACY_METRICS], rows);
}

/**
 * The metrics beside the ranking table, one grid each when present: per segment ("segment:<segment>:<metric>"),
 * per task head ("<task>:<metric>") and the fidelity to a teacher ("fidelity:<metric>"). Empty when none is.
 */
export function breakdownTables(metrics: Record<string, number>): string {
  const keys = Object.keys(metrics);
  const segments = new Set<string>();
  const tasks = new Set<string>();
  for (const key of keys) {
    if (key.startsWith(SEGMENT_PREFIX)) {
      segments.add(key.slice(SEGMENT_PREFIX.length, key.lastIndexOf(":")));
    } else if (isTaskMetric(key)) {
      tasks.add(key.slice(0, key.indexOf(":")));
    }
  }
  const grids = [
    grid(
      metrics,
      "segment",
      [...segments].map((name) => [name, `${SEGMENT_PREFIX}${name}:`]),
    ),
    grid(
      metrics,
      "task",
      [...tasks].map((name) => [name, `${name}:`]),
    ),
    grid(metrics, "fidelity", keys.some((k) => k.startsWith(FIDELITY_PREFIX)) ? [["to teacher", FIDELITY_PREFIX]] : []),
  ];
  return grids.filter((g) => g !== "").join("\n\n");
}

/** A table of the metrics "<prefix><column>" of each row (label, prefix); columns in order of appearance. */
function grid(metrics: Record<string, number>, title: string, rows: [string, string][]): string {
  if (rows.length === 0) return "";
  const columns: string[] = [];
  for (const [, prefix] of rows) {
    for (const key of Object.keys(metrics)) {
      const column = key.slice(prefix.length);
      if (key.startsWith(prefix) && !column.includes(":") && !columns.includes(column)) columns.push(column);
    }
  }
  const cell = (value: number | undefined, column: string) =>
    column === "count" && value !== undefined ? String(value) : fmt(value);
  const body = rows.map(([label, prefix]) => [label, ...columns.map((c) => cell(metrics[`${prefix}${c}`], c))]);
  return table([title, ...columns], body);
}

/** Cells in aligned columns: the first left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  return [header, ...rows]
    .map((cells) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "))
    .join("\n");
}

/** The print function of a command: deps.print, else the command's configured stdout. */
export function printerOf(deps: CommandDeps): (text: string) => void {
  return deps.print ?? ((text: string) => process.stdout.write(`${text}\n`));
}

/**
 * Prints a command's result: its JSON with --json, else the lines before (if any), the metric tables and the
 * lines after, separated by blank lines.
 */
export function printResult(
  deps: CommandDeps,
  opts: { json?: boolean },
  result: { json: unknown; metrics: Record<string, number>; before?: string[]; after: string[] },
): void {
  const print = printerOf(deps);
  if (opts.json) {
    print(JSON.stringify(result.json, null, 2));
    return;
  }
  for (const line of result.before ?? []) print(line);
  if (result.before?.length) print("");
  print(metricsReport(result.metrics));
  print("");
  for (const line of result.after) print(line);
}

/**
 * A model spec from `--model <kind> --dim <d>`: the width goes where each kind keeps it (the zoo's specOfWidth).
 */
export function specFor(kind: string, dim: number, seed: number): ModelSpec {
  if (!isModelKind(kind)) throw new UsageError(`unknown model "${kind}" (known: ${MODEL_KINDS.join(", ")})`);
  return specOfWidth(kind, dim, seed);
}

/** An integer with thousands separators, independent of the locale: 16,000. */
export function count(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Left- or right-aligned columns separated by two spaces, the header first. */
export function formatTable(header: string[], rows: string[][], alignRight: boolean[]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (alignRight[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line);
}
