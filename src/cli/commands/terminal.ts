/**
 * Output for people at a terminal: one short line per step of a command and a progress bar (with ETA)
 * while a model trains, on stderr; the complete JSON log goes to a file instead (a run's run.log), where
 * machines and post-mortems read it. Off a terminal, or with `--log-format json`, the CLI logs JSON to
 * stderr as before.
 */
import cliProgress from "cli-progress";
import { pino } from "pino";
import type { PipelineLog, ProgressEvent } from "../../run/log.js";

export type LogFormat = "human" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["human", "json"];

/** The format when none is asked for: human lines when stdout is a terminal, JSON for machines otherwise. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stdout): LogFormat {
  return stream.isTTY ? "human" : "json";
}

export interface HumanLogOptions {
  /** Where the lines go (default stderr). */
  write?: (text: string) => void;
  /** The JSON log file, written synchronously (none: the JSON is not kept). */
  file?: string;
  /** Draw progress bars (default true; they are drawn only when `stream` is a terminal). */
  bars?: boolean;
  /** Only warnings (--quiet). */
  quiet?: boolean;
  /** The terminal the bars draw on (default stderr). */
  stream?: NodeJS.WriteStream;
}

/** A PipelineLog for people: short lines and bars; every record also in the JSON file, if any. */
export class HumanLog implements PipelineLog {
  private readonly file: pino.Logger | undefined;
  private readonly write: (text: string) => void;
  private readonly stream: NodeJS.WriteStream;
  private readonly bars: boolean;
  private bar: { task: string; bar: cliProgress.SingleBar } | undefined;
  /** A line shown until the next one replaces it (what is running now, on a terminal). */
  private transient = false;

  constructor(private readonly options: HumanLogOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.write = options.write ?? ((text) => this.stream.write(text));
    this.bars = (options.bars ?? true) && this.stream.isTTY === true;
    this.file = options.file
      ? pino(
          { level: "debug", base: undefined },
          pino.destination({ dest: options.file, sync: true, mkdir: true, append: false }),
        )
      : undefined;
  }

  info(obj: object, msg?: string): void {
    this.file?.info(obj, msg);
    if (this.options.quiet) return;
    if (msg !== undefined && msg in TRANSIENT) {
      this.status(TRANSIENT[msg]!(obj as Record<string, unknown>));
      return;
    }
    const line = humanLine(obj as Record<string, unknown>, msg ?? "");
    if (line !== undefined) this.line(line);
  }

  warn(obj: object, msg?: string): void {
    this.file?.warn(obj, msg);
    const details = Object.entries(obj)
      .filter(([, v]) => typeof v === "string" || typeof v === "number")
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    this.line(`warning: ${msg ?? ""}${details ? ` (${details})` : ""}`);
  }

  progress(event: ProgressEvent): void {
    if (!this.bars || this.options.quiet) return;
    const payload = { task: event.task, unit: event.unit, detail: detailText(event.detail) };
    if (this.bar?.task !== event.task) {
      this.endBar();
      const bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format: "  {task} {bar} {value}/{total} {unit}s{detail} | ETA {eta_formatted}",
          barsize: 24,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(event.total, event.done, payload);
      this.bar = { task: event.task, bar };
      return;
    }
    this.bar.bar.update(event.done, payload);
  }

  /** Stop any bar (the end of a command). */
  close(): void {
    this.endBar();
  }

  private line(text: string): void {
    // A line under a live bar would be overwritten by its next redraw: the bar goes first.
    this.endBar();
    this.clearStatus();
    this.write(`${text}\n`);
  }

  /** Show what is running until the next line (only on a terminal, where it can be taken back). */
  private status(text: string): void {
    if (!this.bars) return;
    this.endBar();
    this.clearStatus();
    this.write(text);
    this.transient = true;
  }

  private clearStatus(): void {
    if (this.transient) this.write("\r\x1b[2K");
    this.transient = false;
  }

  private endBar(): void {
    this.bar?.bar.stop();
    this.bar = undefined;
  }
}

/** Records shown as a passing status line: the step running now. */
const TRANSIENT: Record<string, (o: Record<string, unknown>) => string> = {
  evaluating: (o) => `  … evaluating ${o.model} on the test users${o.fullRanking ? " (sampled and full ranking)" : ""}`,
};

function detailText(detail: ProgressEvent["detail"]): string {
  if (!detail) return "";
  return Object.entries(detail)
    .map(([k, v]) => ` | ${k} ${typeof v === "number" ? v.toFixed(4) : v}`)
    .join("");
}

const n = (value: unknown): string =>
  typeof value === "number" ? value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",") : String(value);
const f4 = (value: unknown): string => (typeof value === "number" ? value.toFixed(4) : "–");
/** A share as a percentage with one decimal: 0.0123 → "1.2%". */
export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

/** Test NDCG@10 (full ranking when measured) and, from the full ranking, the catalogue coverage of the top 10. */
export function testQuality(o: Record<string, unknown>): string {
  const full = o["full:NDCG@10"] !== undefined;
  const ndcg = full ? o["full:NDCG@10"] : o["NDCG@10"];
  const coverage = o["full:Coverage@10"];
  return (
    `test NDCG@10 ${f4(ndcg)}${full ? " (full ranking)" : ""}` +
    (typeof coverage === "number" ? `, top 10 covers ${percent(coverage)} of the catalogue` : "")
  );
}

/** The human line of a log record (undefined: nothing to show, e.g. an epoch, which the bar shows). */
export function humanLine(o: Record<string, unknown>, msg: string): string | undefined {
  switch (msg) {
    case "data":
      return (
        `data         ${o.dataset}: ${n(o.users)} users, ${n(o.items)} items ` +
        `(train ${n(o.train)}, valid ${n(o.valid)}, test ${n(o.test)})`
      );
    case "training teacher":
      return `teacher      training ${o.model}`;
    case "best teacher (by validation NDCG@10)":
      return `teacher      best: ${o.teacher} (validation NDCG@10 ${f4(o.validNDCG10)})`;
    case "student to ship (best by validation NDCG@10)": {
      const others = Array.isArray(o.others) ? (o.others as { model: string; validNDCG10: number }[]) : [];
      const next = others.length ? `; next ${others.map((s) => `${s.model} ${f4(s.validNDCG10)}`).join(", ")}` : "";
      return `student      shipped: ${o.model} (best validation NDCG@10 ${f4(o.validNDCG10)}${next})`;
    }
    case "soft labels generated":
      return `soft labels  generated for ${n(o.rows)} users`;
    case "soft labels": {
      if (o.cached) return "soft labels  read from the cache";
      const why = o.reason === "missing" ? "" : o.reason === "stale" ? ", the cached ones were stale" : `, ${o.reason}`;
      return `soft labels  generated and cached${why}`;
    }
    case "training student":
      return `student      training ${o.model} (method ${o.method})`;
    case "training the assistant chain":
      return `assistant    training the chain teacher → assistant → student (method ${o.method})`;
    case "evaluated": {
      const latency = typeof o.latencyMs === "number" ? `, ${o.latencyMs.toFixed(2)} ms a request` : "";
      return `  ✓ ${o.model}: ${testQuality(o)}, ${n(o.parameters)} parameters${latency}`;
    }
    case "reference evaluated":
      return `reference    ${o.model}: ${testQuality(o)}`;
    case "compressing":
      return `compression  ${o.model}: ${Array.isArray(o.steps) ? o.steps.join(" → ") : ""}`;
    case "compress":
      return `compression  ${o.model}: ${Array.isArray(o.steps) ? o.steps.join(" → ") : ""}`;
    case "compression step": {
      const mark = o.status === "start" ? "·" : o.status === "kept" ? "✓" : "✗";
      const status = o.status === "start" ? "" : ` ${o.status},`;
      const note = o.note ? ` (${o.note})` : "";
      return `  ${mark} ${o.step}:${status} ${n(o.bytes)} bytes, validation NDCG@10 ${f4(o.validNDCG10)}${note}`;
    }
    case "epoch":
    case "done":
      return undefined;
    default:
      return msg || undefined;
  }
}
