// Header parsing and the shape errors shared by the interaction and feature readers.
import { DataError, quoteValue } from "../errors.js";
import { delimiterName, FieldSplitter, guessDelimiter } from "./fields.js";

/** Column types of RecBole atomic files. */
export const RECBOLE_TYPES = ["token", "token_seq", "float", "float_seq"] as const;
export type RecBoleType = (typeof RECBOLE_TYPES)[number];

/** Field names of a RecBole header (`name:type` cells), validating the types. */
export function parseRecBoleHeader(path: string, header: string): { names: string[]; types: RecBoleType[] } {
  const names: string[] = [];
  const types: RecBoleType[] = [];
  for (const cell of header.split("\t")) {
    const colon = cell.lastIndexOf(":");
    const type = colon < 0 ? "" : cell.slice(colon + 1);
    if (!(RECBOLE_TYPES as readonly string[]).includes(type)) {
      const reason =
        colon < 0
          ? `header cell ${quoteValue(cell)} has no ":type" (RecBole headers are name:type)`
          : `unknown type ${quoteValue(type)} in header cell ${quoteValue(cell)} (expected one of ${RECBOLE_TYPES.join(", ")})`;
      throw new DataError(path, 1, reason, "bad RecBole header");
    }
    names.push(cell.slice(0, colon));
    types.push(type as RecBoleType);
  }
  return { names, types };
}

/** Header names split like data rows (so quoted CSV headers work). */
export function splitHeader(line: string, delimiter: string, quoted: boolean): string[] {
  const buf = Buffer.from(line, "utf8");
  const splitter = new FieldSplitter(delimiter, quoted);
  const count = splitter.split(buf, 0, buf.length);
  return count < 0 ? line.split(delimiter) : Array.from({ length: count }, (_, i) => splitter.text(buf, i));
}

/** The error for a first line that does not split into at least 2 fields, guessing the delimiter actually used. */
export function wrongDelimiterError(path: string, firstLine: string, delimiter: string): DataError {
  const guess = guessDelimiter(firstLine, delimiter);
  const hint = guess ? `; the file seems to be ${delimiterName(guess)}-separated` : "";
  const reason = `expected at least 2 ${delimiterName(delimiter)}-separated fields but line 1 has 1${hint}`;
  return new DataError(path, 1, reason, "wrong delimiter");
}

/** The error for a row with `count` fields (-1: broken quoting) where `expected` were expected. */
export function fieldCountError(
  path: string,
  line: number,
  text: string,
  count: number,
  expected: number,
  delimiter: string,
): DataError {
  if (count < 0) return new DataError(path, line, "unterminated or misplaced quote", "bad quoting");
  let reason = `expected ${expected} ${delimiterName(delimiter)}-separated fields but found ${count}`;
  if (count === 1) {
    const guess = guessDelimiter(text, delimiter);
    if (guess) reason += `; the line seems to be ${delimiterName(guess)}-separated`;
  }
  return new DataError(path, line, reason, "wrong number of fields");
}
