// Bad-input errors that point at the exact file and line, and the report kept when lenient readers skip rows.

/** A problem in an input file: `file:line: reason`. `line` is 1-based (0 when the problem is the file as a whole). */
export class DataError extends Error {
  override readonly name = "DataError";

  /**
   * @param file the path as given to the reader
   * @param line 1-based physical line number, 0 for whole-file problems
   * @param reason what is wrong, naming the offending value
   * @param category the reason without row-specific values, used to group skipped rows in lenient reports
   */
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    readonly category: string = reason,
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
  }
}

/** What a lenient read skipped: how many rows, why (category → count), and the first few errors verbatim. */
export interface ReadReport {
  skipped: number;
  reasons: Map<string, number>;
  examples: DataError[];
}

const MAX_EXAMPLES = 5;

/** Decides what happens to a bad row: rethrow it (strict) or count it in a report (lenient). */
export class BadRowPolicy {
  readonly report: ReadReport = { skipped: 0, reasons: new Map(), examples: [] };

  constructor(readonly lenient: boolean) {}

  /** Rethrows `error` unless lenient, in which case it is recorded and the row is skipped. */
  handle(error: unknown): void {
    if (!this.lenient || !(error instanceof DataError)) throw error;
    const report = this.report;
    report.skipped++;
    report.reasons.set(error.category, (report.reasons.get(error.category) ?? 0) + 1);
    if (report.examples.length < MAX_EXAMPLES) report.examples.push(error);
  }
}

/** A report combining several (e.g. interactions plus feature files). */
export function mergeReports(reports: readonly ReadReport[]): ReadReport {
  const merged: ReadReport = { skipped: 0, reasons: new Map(), examples: [] };
  for (const report of reports) {
    merged.skipped += report.skipped;
    for (const [reason, count] of report.reasons) merged.reasons.set(reason, (merged.reasons.get(reason) ?? 0) + count);
    for (const example of report.examples) if (merged.examples.length < MAX_EXAMPLES) merged.examples.push(example);
  }
  return merged;
}

/** A cell value quoted for an error message, shortened when long. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}
