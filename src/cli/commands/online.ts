/**
 * `distillrec online`: online learning from a replayed event log, without a server. The log (any format
 * readInteractions reads) is replayed in time order through an OnlineLoop over the student artefact — the
 * student learns from every batch; with a teacher, re-distillation on a schedule or on drift, the promotion
 * gate and the rollback watch — and every event is first ranked by the serving student, then learned from
 * (prequential evaluation). Prints the metrics per window, the loop's decisions and the learning speed, and
 * with --out saves the final serving student as an ordinary artefact.
 */
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import cliProgress from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { readInteractions } from "../../data/readers.js";
import type { InteractionFormat } from "../../data/readers/interactions.js";
import type { PipelineLog } from "../../run/log.js";
import { prequential, type PrequentialResult, type WindowMetrics } from "../../eval/prequential.js";
import { ArtefactError, findTeacherBeside, readManifest } from "../../models/artefact.js";
import { openOnline, saveOnline, type OpenedOnline } from "../../online/artefacts.js";
import { LOOP_DEFAULTS, OnlineLoop, type Decision, type OnlineLoopOptions } from "../../online/loop.js";
import { ONLINE_MODEL_DEFAULTS, type OnlineModelOptions } from "../../online/model.js";
import { eventsOf, numberedStream } from "../../online/stream.js";
import {
  addForceOption,
  addOutputOptions,
  checkArtefactOutput,
  count,
  createLogger,
  formatTable,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  printerOf,
  UsageError,
  type CommandDeps,
  type OutputOptions,
} from "./common.js";

const FORMATS = ["auto", "recbole", "movielens", "csv", "tsv", "jsonl"] as const;

/** The settings the options set. */
interface Settings {
  format: InteractionFormat | "auto";
  batch: number;
  redistillEvery: number;
  driftWindow: number;
  driftDrop: number;
  holdout: number;
  tolerance: number;
  watch: number;
  rollbackTolerance: number;
  userSlots: number;
  itemSlots: number;
  lr: number;
  window: number;
  seed: number;
}

/** The defaults the help names: the online model's and the loop's own, and this command's. */
export const ONLINE_DEFAULTS: Readonly<Settings> = {
  format: "auto",
  batch: LOOP_DEFAULTS.batch,
  redistillEvery: LOOP_DEFAULTS.redistillEvery,
  driftWindow: LOOP_DEFAULTS.drift.window,
  driftDrop: LOOP_DEFAULTS.drift.drop,
  holdout: LOOP_DEFAULTS.gate.holdout,
  tolerance: LOOP_DEFAULTS.gate.tolerance,
  watch: LOOP_DEFAULTS.watch.window,
  rollbackTolerance: LOOP_DEFAULTS.watch.tolerance,
  userSlots: ONLINE_MODEL_DEFAULTS.userSlots,
  itemSlots: ONLINE_MODEL_DEFAULTS.itemSlots,
  lr: ONLINE_MODEL_DEFAULTS.optimizer.lr,
  window: 5000,
  seed: 0,
};

/** Options of `online` as commander parses them. */
export interface OnlineOptions extends OutputOptions, Partial<Settings> {
  replay: string;
  model: string;
  /** A teacher directory, false (--no-teacher: no re-distillation) or undefined (the lineage's, if beside). */
  teacher?: string | false;
  out?: string;
  /** Replace a model artefact already at --out. */
  force?: boolean;
  /** False with --no-drift. */
  drift?: boolean;
}

/** What `online` did. */
export interface OnlineResult {
  /** The replayed file. */
  replay: string;
  events: number;
  /** Users and items of the log the student artefact had no row for. */
  newUsers: number;
  newItems: number;
  /** The student artefact's id, and the teacher's directory (null: no re-distillation). */
  model: string;
  teacher: string | null;
  /** Prequential metrics (HR@10, NDCG@10, …) per window of events and over the whole log. */
  windows: WindowMetrics[];
  overall: Record<string, number>;
  decisions: Decision[];
  /** Events learned per second by the serving student. */
  eventsPerSecond: number;
  /** Where the final serving student was saved, and its id (null: no --out). */
  out: string | null;
  id: string | null;
}

/** Replay an event log through online learning. */
export async function online(opts: OnlineOptions, deps: CommandDeps = {}): Promise<OnlineResult> {
  const log =
    deps.log ?? createLogger({ quiet: opts.quiet || opts.json, logFormat: opts.logFormat, progress: opts.progress });
  checkOptions(opts);
  const replay = resolve(opts.replay);
  if (!existsSync(replay)) throw new UsageError(`--replay ${opts.replay}: no such file`);
  if (statSync(replay).isDirectory()) {
    throw new UsageError(`--replay ${opts.replay}: a directory; give the event file itself (e.g. the .inter file)`);
  }
  const out = opts.out === undefined ? null : resolve(opts.out);
  if (out !== null) {
    const inputs = { "--replay": replay, "--model": opts.model, "--teacher": opts.teacher || undefined };
    checkArtefactOutput(out, { force: opts.force, inputs });
  }

  const batch = opts.batch ?? ONLINE_DEFAULTS.batch;
  const seed = opts.seed ?? ONLINE_DEFAULTS.seed;
  const modelOptions: OnlineModelOptions = {
    ...given("userSlots", opts.userSlots),
    ...given("itemSlots", opts.itemSlots),
    ...(opts.lr === undefined ? {} : { optimizer: { ...ONLINE_MODEL_DEFAULTS.optimizer, lr: opts.lr } }),
    seed,
  };
  const opened = open(opts, modelOptions);
  const { student, teacher, artefact } = opened;
  if (teacher) log.info({ model: artefact.manifest.id, teacher: opened.teacherDir }, "online: student and teacher");
  else {
    log.info(
      { model: artefact.manifest.id },
      opts.teacher === false
        ? "online: --no-teacher, no re-distillation"
        : "online: no teacher found, no re-distillation",
    );
  }

  const dataset = await readInteractions(replay, { format: opts.format ?? ONLINE_DEFAULTS.format });
  const stream = eventsOf(dataset);
  const numbered = numberedStream(stream);
  const newUsers = numbered.users.toJSON().filter((u) => artefact.users.get(u) === undefined).length;
  const newItems = numbered.items.toJSON().filter((i) => artefact.items.get(i) === undefined).length;
  log.info({ file: replay, events: stream.length, newUsers, newItems }, "online: replaying");

  const bar =
    // Commander sets `progress` (true unless --no-progress): --quiet and --json hide the bar as well.
    opts.progress !== false && !opts.quiet && !opts.json && process.stderr.isTTY
      ? progressBar(stream.length)
      : undefined;
  const decisions: Decision[] = [];
  const onDecision = (decision: Decision) => {
    decisions.push(decision);
    if (bar) process.stderr.write("\r\x1b[2K");
    report(log, decision);
  };
  let loop: OnlineLoop;
  try {
    loop = new OnlineLoop(student, teacher, loopOptions(opts, batch, seed), { onDecision });
  } catch (err) {
    throw err instanceof RangeError ? new UsageError(err.message) : err;
  }

  let result: PrequentialResult;
  try {
    result = await prequential(
      numbered.events,
      numbered.learner(
        (user, history, items) => loop.serving.score(user, history, items),
        (events) => {
          loop.learn(events);
          bar?.update(loop.events, { state: loop.state, decisions: decisions.length });
        },
      ),
      {
        numItems: numbered.numItems,
        window: opts.window ?? ONLINE_DEFAULTS.window,
        batch,
        historyLength: student.historyLength,
        ks: [10],
        seed,
      },
    );
  } finally {
    bar?.stop();
  }

  const serving = loop.serving;
  if (serving.users.evictions > 0 || serving.items.evictions > 0) {
    log.warn(
      { users: serving.users.evictions, items: serving.items.evictions },
      "online: new ids outnumbered the slots and the least recently seen lost theirs (raise --user-slots, --item-slots)",
    );
  }
  let id: string | null = null;
  if (out !== null) {
    id = saveOnline(out, serving, artefact, { onlineReplay: basename(replay), onlineEvents: stream.length }).id;
    log.info({ out, id }, "online: saved the serving student");
  }

  const summary: OnlineResult = {
    replay,
    events: stream.length,
    newUsers,
    newItems,
    model: artefact.manifest.id,
    teacher: opened.teacherDir ?? null,
    windows: result.windows,
    overall: result.overall,
    decisions,
    eventsPerSecond: loop.eventsPerSecond,
    out,
    id,
  };
  const print = printerOf(deps);
  if (opts.json) print(JSON.stringify(summary, null, 2));
  else for (const line of describe(summary)) print(line);
  return summary;
}

/** `{ [key]: value }`, or nothing when the option was not given (the library's default applies). */
function given<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The options' ranges, for callers that bypass commander's parsers. */
function checkOptions(opts: OnlineOptions): void {
  const check = (flag: string, value: unknown, parse: (value: string) => unknown) => {
    if (value !== undefined) checked(flag, parse)(String(value));
  };
  check("--format", opts.format, format);
  for (const [flag, value] of [
    ["--batch", opts.batch],
    ["--drift-window", opts.driftWindow],
    ["--holdout", opts.holdout],
    ["--watch", opts.watch],
    ["--user-slots", opts.userSlots],
    ["--item-slots", opts.itemSlots],
    ["--window", opts.window],
  ] as const) {
    check(flag, value, positiveInt);
  }
  check("--redistill-every", opts.redistillEvery, nonNegativeInt);
  check("--seed", opts.seed, nonNegativeInt);
  check("--lr", opts.lr, positiveNumber);
  check("--drift-drop", opts.driftDrop, dropFraction);
  check("--tolerance", opts.tolerance, tolerance);
  check("--rollback-tolerance", opts.rollbackTolerance, tolerance);
}

/** The loop's options: those given (the loop's defaults for the others). */
function loopOptions(opts: OnlineOptions, batch: number, seed: number): OnlineLoopOptions {
  const drift = { ...given("window", opts.driftWindow), ...given("drop", opts.driftDrop) };
  return {
    batch,
    ...given("redistillEvery", opts.redistillEvery),
    ...(opts.drift === false ? { drift: false as const } : Object.keys(drift).length ? { drift } : {}),
    gate: { ...given("holdout", opts.holdout), ...given("tolerance", opts.tolerance) },
    watch: { ...given("window", opts.watch), ...given("tolerance", opts.rollbackTolerance) },
    seed,
  };
}

/**
 * The student and its teacher as online models. An artefact online learning cannot grow (a kind other than
 * two-tower or bpr-mf, quotient-remainder id tables) is a usage error naming which of the two it is.
 */
function open(opts: OnlineOptions, options: OnlineModelOptions): OpenedOnline {
  try {
    return openOnline(opts.model, opts.teacher, options);
  } catch (err) {
    if (!isRefusal(err)) throw err;
    try {
      openOnline(opts.model, false, options);
    } catch (own) {
      if (isRefusal(own)) throw new UsageError(`--model ${opts.model}: ${own.message}`);
      throw own;
    }
    const dir = opts.teacher || findTeacherBeside(opts.model, readManifest(opts.model));
    const which = opts.teacher ? "--teacher" : "the lineage's teacher";
    throw new UsageError(`${which} ${dir}: ${err.message} (--no-teacher learns without re-distillation)`);
  }
}

/** OnlineModel's refusal of an artefact (a plain Error or a RangeError, not an ArtefactError or a bug). */
function isRefusal(err: unknown): err is Error {
  return (
    err instanceof Error &&
    !(err instanceof ArtefactError) &&
    (err.constructor === Error || err.constructor === RangeError)
  );
}

function report(log: PipelineLog, decision: Decision): void {
  const fields = {
    at: decision.at,
    ...(decision.serving === undefined ? {} : { serving: round(decision.serving) }),
    ...(decision.other === undefined ? {} : { other: round(decision.other) }),
  };
  const message = `online: ${decision.kind}: ${decision.reason}`;
  if (decision.kind === "rollback") log.warn(fields, message);
  else log.info(fields, message);
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** The text report: what was replayed, the metrics table, the decisions, the speed and where it was saved. */
export function describe(result: OnlineResult): string[] {
  const metric = (metrics: Record<string, number>, name: string) => (metrics[name] ?? NaN).toFixed(4);
  const rows = result.windows.map((w) => [
    `${count(w.start + 1)}–${count(w.start + w.events)}`,
    metric(w.metrics, "HR@10"),
    metric(w.metrics, "NDCG@10"),
  ]);
  rows.push(["overall", metric(result.overall, "HR@10"), metric(result.overall, "NDCG@10")]);
  const decisions =
    result.decisions.length === 0
      ? [result.teacher === null ? "decisions: none (no teacher, no re-distillation)" : "decisions: none"]
      : [
          "decisions:",
          ...formatTable(
            ["at event", "decision", "reason"],
            result.decisions.map((d) => [count(d.at), d.kind, d.reason]),
            [true, false, false],
          ).map((line) => `  ${line}`),
        ];
  return [
    `replayed ${count(result.events)} events from ${basename(result.replay)} through ${result.model} ` +
      `(${count(result.newUsers)} new users, ${count(result.newItems)} new items)`,
    "",
    ...formatTable(["events", "HR@10", "NDCG@10"], rows, [false, true, true]),
    "",
    ...decisions,
    "",
    `learned ${count(result.events)} events at ${count(Math.round(result.eventsPerSecond))} events/s`,
    ...(result.out === null ? [] : [`saved the serving student to ${result.out} (${result.id})`]),
  ];
}

function progressBar(total: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "online {bar} {value}/{total} events | {state} | {decisions} decisions | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { state: "idle", decisions: 0 });
  return bar;
}

/** A commander parser whose refusal is a UsageError naming the option (main.ts: one line, exit code 2). */
function checked<T>(flag: string, parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(`${flag} ${value}: ${err.message}`);
      throw err;
    }
  };
}

function format(value: string): InteractionFormat | "auto" {
  if (!(FORMATS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${FORMATS.join(", ")}`);
  }
  return value as InteractionFormat | "auto";
}

function tolerance(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError("must be a fraction in [0, 1)");
  return n;
}

function dropFraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError("must be a fraction in (0, 1)");
  return n;
}

/** The `online` subcommand. */
export function onlineCommand(deps: CommandDeps = {}): Command {
  const d = ONLINE_DEFAULTS;
  const command = new Command("online")
    .description(
      "replay an event log through online learning: the student learns from every event, re-distilled from " +
        "a refreshed teacher through a promotion gate; prequential metrics per window",
    )
    .requiredOption(
      "--replay <file>",
      "event log to replay in time order (RecBole .inter, MovieLens, CSV/TSV with a header, JSON lines)",
    )
    .requiredOption("--model <dir>", "student artefact directory (two-tower or bpr-mf)")
    .option("--teacher <dir>", "teacher artefact for re-distillation (default: the lineage's, if beside the model)")
    .option("--no-teacher", "no teacher: learn online without re-distillation")
    .option("--out <dir>", "save the final serving student here as an artefact (default: nothing is written)")
    .option(
      "--format <format>",
      `event log format: ${FORMATS.join(", ")} (default ${d.format})`,
      checked("--format", format),
    )
    .option("--batch <n>", `events per learning step (default ${d.batch})`, checked("--batch", positiveInt))
    .option(
      "--redistill-every <n>",
      `re-distil every n events; 0: only on drift (default ${d.redistillEvery})`,
      checked("--redistill-every", nonNegativeInt),
    )
    .option("--no-drift", "no re-distillation when live NDCG@10 drops")
    .option(
      "--drift-window <n>",
      `recent events compared with the reference window for drift (default ${d.driftWindow})`,
      checked("--drift-window", positiveInt),
    )
    .option(
      "--drift-drop <fraction>",
      `relative drop of live NDCG@10 that counts as drift (default ${d.driftDrop})`,
      checked("--drift-drop", dropFraction),
    )
    .option(
      "--holdout <n>",
      `events a candidate shadows the serving student before the gate decides (default ${d.holdout})`,
      checked("--holdout", positiveInt),
    )
    .option(
      "--tolerance <fraction>",
      `relative NDCG@10 a candidate may lose and still be promoted (default ${d.tolerance})`,
      checked("--tolerance", tolerance),
    )
    .option(
      "--watch <n>",
      `events watched after a promotion before it is confirmed or rolled back (default ${d.watch})`,
      checked("--watch", positiveInt),
    )
    .option(
      "--rollback-tolerance <fraction>",
      `relative NDCG@10 a promoted student may lose to the one it replaced before a rollback (default ${d.rollbackTolerance})`,
      checked("--rollback-tolerance", tolerance),
    )
    .option(
      "--user-slots <n>",
      `rows for users the student never saw, least recently seen recycled (default ${d.userSlots})`,
      checked("--user-slots", positiveInt),
    )
    .option(
      "--item-slots <n>",
      `rows for items the student never saw (default ${d.itemSlots})`,
      checked("--item-slots", positiveInt),
    )
    .option(
      "--lr <rate>",
      `online learning rate (${ONLINE_MODEL_DEFAULTS.optimizer.optimizer}; default ${d.lr})`,
      checked("--lr", positiveNumber),
    )
    .option(
      "--window <n>",
      `events per reported window of the prequential metrics (default ${d.window})`,
      checked("--window", positiveInt),
    )
    .option("--seed <n>", `random seed (default ${d.seed})`, checked("--seed", nonNegativeInt));
  return addOutputOptions(addForceOption(command), { json: "print the result as one JSON object" }).action(
    async (opts: OnlineOptions) => {
      await online(opts, deps);
    },
  );
}
