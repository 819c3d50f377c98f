/** Structured logging of the pipeline's stages and the CLI's single-step commands. */

/** Structured logging (a pino logger fits). */
export interface PipelineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  /**
   * How far a long step is (a model's epochs), for a progress bar. A log that takes these draws the bar
   * itself, so the trainer draws none.
   */
  progress?(event: ProgressEvent): void;
}

/** `done` of `total` units of a task (the epochs of one model's training), with the latest figures. */
export interface ProgressEvent {
  task: string;
  done: number;
  total: number;
  unit: string;
  detail?: Record<string, number | string>;
}

/** Options of runPipeline and of the building blocks. */
export interface PipelineOptions {
  log?: PipelineLog;
  /** Progress bars on stderr (only shown on a terminal). */
  progress?: boolean;
}

/** The log of a caller that gave none. */
export const silent: PipelineLog = { info() {}, warn() {} };

/** A figure rounded to four decimals, for log lines. */
export function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Every figure of a metrics record rounded to four decimals, for log lines. */
export function roundAll(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, round(v)]));
}
