// Interaction log readers: RecBole .inter, MovieLens (u.data, ratings.dat, ratings.csv), generic CSV/TSV/JSON lines.
import { basename, extname } from "node:path";
import { BadRowPolicy, DataError, quoteValue, type ReadReport } from "../errors.js";
import { IdMap } from "../idmap.js";
import { EVENT_TYPES, type Dataset, type EventType } from "../types.js";
import { InteractionBuilder } from "./builder.js";
import { FieldSplitter, numberProblem, parseNumber, parseNumberText, TokenInterner } from "./fields.js";
import { fieldCountError, parseRecBoleHeader, RECBOLE_TYPES, splitHeader, wrongDelimiterError } from "./header.js";
import { DEFAULT_CHUNK_SIZE, forEachLine, readHead } from "./lines.js";

export type InteractionFormat = "recbole" | "movielens" | "csv" | "tsv" | "jsonl";

/** A column by header name (CSV/TSV with a header, RecBole field name without `:type`, JSON key) or 0-based index. */
export type ColumnRef = string | number;

/** Which columns hold what; `value`, `timestamp` and `eventType` are optional in the data. */
export interface ColumnMapping {
  user: ColumnRef;
  item: ColumnRef;
  value?: ColumnRef;
  timestamp?: ColumnRef;
  eventType?: ColumnRef;
}

export interface ReadInteractionsOptions {
  /** Default "auto": by file name, then by the first line. */
  format?: InteractionFormat | "auto";
  /** Columns to use; unspecified ones are found by common names (user_id, userId, item_id, movieId, rating, ...). */
  columns?: Partial<ColumnMapping>;
  /** CSV/TSV: whether the first line is a header. Default: yes unless every cell of the first line is a number. */
  header?: boolean;
  /** CSV/TSV: override the delimiter ("," / "\t"). */
  delimiter?: string;
  /** Extra event-type names, e.g. { add_to_cart: "cart" }; matching is case-insensitive. */
  eventAliases?: Record<string, EventType>;
  /** Event type of rows without an event column. Default "rating" when there is a value column, else "view". */
  defaultEventType?: EventType;
  /** "number" (default): seconds as a number; "iso": a date string such as 2024-01-31T12:00:00Z. */
  timestampFormat?: "number" | "iso";
  /** Skip bad rows and report them instead of throwing on the first one. */
  lenient?: boolean;
  /** Read size in bytes (tests use tiny chunks to split lines across reads). */
  chunkSize?: number;
  /** Dataset name; default the file name without extension. */
  name?: string;
  /** Existing id maps to extend (e.g. reading a test log with the training ids); new ones are created otherwise. */
  users?: IdMap;
  items?: IdMap;
}

/** A lenient read: the dataset from the good rows and what was skipped. */
export interface LenientRead {
  dataset: Dataset;
  report: ReadReport;
}

const COLUMN_ALIASES: Record<keyof ColumnMapping, readonly string[]> = {
  user: ["user_id", "userid", "user", "uid", "visitorid", "customer_id"],
  item: ["item_id", "itemid", "item", "iid", "movieid", "product_id", "productid"],
  value: ["rating", "value", "score", "weight"],
  timestamp: ["timestamp", "time", "ts", "datetime"],
  eventType: ["event_type", "eventtype", "event", "action", "behavior"],
};
const ROLES = ["user", "item", "value", "timestamp", "eventType"] as const;
type Role = (typeof ROLES)[number];
const ROLE_LABELS: Record<Role, string> = {
  user: "user",
  item: "item",
  value: "rating",
  timestamp: "timestamp",
  eventType: "event type",
};

/** Column indices per role (-1 = absent) plus how to split lines. */
interface Plan {
  delimiter: string;
  quoted: boolean;
  hasHeader: boolean;
  fieldCount: number;
  columns: Record<Role, number>;
}

/**
 * Reads an interaction log into a Dataset, streaming the file into columnar typed arrays.
 * Strict by default: the first bad row throws a DataError naming file, line and reason.
 * With `{ lenient: true }` bad rows are skipped and returned in a report alongside the dataset.
 */
export function readInteractions(
  path: string,
  options: ReadInteractionsOptions & { lenient: true },
): Promise<LenientRead>;
export function readInteractions(
  path: string,
  options?: ReadInteractionsOptions & { lenient?: false },
): Promise<Dataset>;
export function readInteractions(path: string, options?: ReadInteractionsOptions): Promise<Dataset | LenientRead>;
export async function readInteractions(
  path: string,
  options: ReadInteractionsOptions = {},
): Promise<Dataset | LenientRead> {
  const result = await readInteractionsWithReport(path, options);
  return options.lenient ? result : result.dataset;
}

/** readInteractions that always returns the report (empty when strict). */
export async function readInteractionsWithReport(
  path: string,
  options: ReadInteractionsOptions = {},
): Promise<LenientRead> {
  const { firstLine, estimatedLines } = await readHead(path, 1 << 20);
  if (firstLine === undefined) throw new DataError(path, 0, "file is empty", "empty file");
  const format = !options.format || options.format === "auto" ? detectFormat(path, firstLine) : options.format;
  const users = options.users ?? new IdMap();
  const items = options.items ?? new IdMap();
  // A little headroom over the estimate so that the columns rarely need to grow.
  const builder = new InteractionBuilder(Math.min(Math.ceil(estimatedLines * 1.05) + 1024, 1 << 30));
  const policy = new BadRowPolicy(options.lenient ?? false);
  const events = eventCodes(options.eventAliases);
  const target: RowTarget = {
    path,
    options,
    events,
    builder,
    userIds: new TokenInterner(users),
    itemIds: new TokenInterner(items),
  };
  const parseRow =
    format === "jsonl"
      ? jsonRowParser(target, firstLine)
      : delimitedRowParser(target, planFor(path, format, firstLine, options));
  await forEachLine(
    path,
    (buf, start, end, line) => {
      if (start === end) return;
      try {
        parseRow(buf, start, end, line);
      } catch (error) {
        policy.handle(error);
      }
    },
    options.chunkSize ?? DEFAULT_CHUNK_SIZE,
  );
  if (builder.length === 0) {
    const skipped = policy.report.skipped;
    const reason = skipped > 0 ? `no valid rows (${skipped} skipped)` : "no rows (empty or header only)";
    throw new DataError(path, 0, reason, "no rows");
  }
  const name = options.name ?? basename(path, extname(path));
  return { dataset: { name, interactions: builder.finish(), users, items }, report: policy.report };
}

/** The format of `path` from its name, else from its first line. */
export function detectFormat(path: string, firstLine: string): InteractionFormat {
  const name = basename(path).toLowerCase();
  if (name.endsWith(".inter")) return "recbole";
  if (name === "u.data" || name === "ratings.dat") return "movielens";
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "jsonl";
  if (name.endsWith(".csv")) return "csv";
  if (name.endsWith(".tsv") || name.endsWith(".tab")) return "tsv";
  if (new RegExp(`^[^\\t:]+:(${RECBOLE_TYPES.join("|")})(\\t|$)`).test(firstLine)) return "recbole";
  if (firstLine.trimStart().startsWith("{")) return "jsonl";
  if (firstLine.includes("::")) return "movielens";
  if (firstLine.includes("\t")) return "tsv";
  if (firstLine.includes(",")) return "csv";
  throw new DataError(path, 1, "cannot detect the file format; pass options.format", "unknown format");
}

/** Event-type name (lower case) → code, including aliases. */
function eventCodes(aliases: Record<string, EventType> = {}): Map<string, number> {
  const codes = new Map<string, number>(EVENT_TYPES.map((name, code) => [name, code]));
  for (const [alias, target] of Object.entries(aliases)) {
    const code = codes.get(target);
    if (code === undefined) throw new TypeError(`eventAliases: "${alias}" maps to unknown event type "${target}"`);
    codes.set(alias.toLowerCase(), code);
  }
  return codes;
}

/** How to split and which columns to read, from the format, the first line and the options. */
function planFor(path: string, format: InteractionFormat, firstLine: string, options: ReadInteractionsOptions): Plan {
  let delimiter: string;
  let names: string[] | undefined;
  if (format === "recbole") {
    delimiter = "\t";
    names = parseRecBoleHeader(path, firstLine).names;
  } else if (format === "movielens") {
    if (firstLine.includes("::")) delimiter = "::";
    else if (firstLine.startsWith("userId,")) delimiter = ",";
    else delimiter = "\t";
    if (delimiter === ",") names = firstLine.split(",");
  } else {
    delimiter = options.delimiter ?? (format === "csv" ? "," : "\t");
    const cells = firstLine.split(delimiter);
    const hasHeader = options.header ?? !cells.every((cell) => Number.isFinite(parseNumberText(cell)));
    if (hasHeader) names = splitHeader(firstLine, delimiter, format === "csv");
  }
  const fieldCount = names
    ? names.length
    : new FieldSplitter(delimiter, false).split(Buffer.from(firstLine), 0, firstLine.length);
  if (fieldCount < 2) throw wrongDelimiterError(path, firstLine, delimiter);
  const columns = {} as Record<Role, number>;
  for (const role of ROLES)
    columns[role] = resolveColumn(path, role, options.columns?.[role], names, fieldCount, !options.columns);
  return { delimiter, quoted: delimiter === ",", hasHeader: names !== undefined, fieldCount, columns };
}

/**
 * The column index for `role` (-1 when optional and absent); explicit references must exist. Without a header,
 * `positional` picks the conventional user, item, rating, timestamp order.
 */
function resolveColumn(
  path: string,
  role: Role,
  ref: ColumnRef | undefined,
  names: readonly string[] | undefined,
  fieldCount: number,
  positional: boolean,
): number {
  const required = role === "user" || role === "item";
  if (typeof ref === "number") {
    if (Number.isInteger(ref) && ref >= 0 && ref < fieldCount) return ref;
    throw new DataError(path, 1, `${role} column index ${ref} is outside the ${fieldCount} columns`, "unknown column");
  }
  if (ref !== undefined) {
    const index = names?.indexOf(ref) ?? -1;
    if (index >= 0) return index;
    const available = names ? `available columns: ${names.join(", ")}` : "the file has no header; use column indices";
    throw new DataError(path, 1, `unknown column ${quoteValue(ref)} for ${role}; ${available}`, "unknown column");
  }
  if (!names) {
    // Headerless logs are user, item[, rating[, timestamp]] by convention (MovieLens u.data, ratings.dat), unless
    // the caller mapped columns by index: then unmapped roles are absent rather than guessed.
    const position = positional ? { user: 0, item: 1, value: 2, timestamp: 3, eventType: -1 }[role] : -1;
    if (position >= 0 && position < fieldCount) return position;
    if (!required) return -1;
    throw new DataError(path, 1, `no ${role} column; set options.columns.${role} to a column index`, "unknown column");
  }
  const lower = names.map((name) => name.toLowerCase());
  for (const alias of COLUMN_ALIASES[role]) {
    const index = lower.indexOf(alias);
    if (index >= 0) return index;
  }
  if (!required) return -1;
  const reason = `no ${role} column found; set options.columns.${role} to one of: ${names.join(", ")}`;
  throw new DataError(path, 1, reason, "unknown column");
}

type RowParser = (buf: Buffer, start: number, end: number, line: number) => void;

/** What a row parser reads rows against and where it puts them. */
interface RowTarget {
  path: string;
  options: ReadInteractionsOptions;
  /** Event type codes by lower-case name. */
  events: Map<string, number>;
  builder: InteractionBuilder;
  userIds: TokenInterner;
  itemIds: TokenInterner;
}

/** The error for a cell that is not a usable number, naming the column and what is wrong with the value. */
function badNumber(path: string, line: number, role: Role, text: string): DataError {
  const problem = numberProblem(text);
  return new DataError(
    path,
    line,
    `${ROLE_LABELS[role]} ${quoteValue(text)} ${problem}`,
    `${ROLE_LABELS[role]} ${problem}`,
  );
}

/** The code of event type `name` (any case), or a DataError naming the known ones. */
function eventCode(path: string, line: number, name: string, events: Map<string, number>): number {
  const code = events.get(name.toLowerCase());
  if (code !== undefined) return code;
  const known = [...events.keys()].join(", ");
  throw new DataError(path, line, `unknown event type ${quoteValue(name)} (known: ${known})`, "unknown event type");
}

function isoSeconds(path: string, line: number, text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new DataError(path, line, `timestamp ${quoteValue(text)} is not a date`, "timestamp is not a date");
  return ms / 1000;
}

/** A row parser for delimiter-separated formats that reads ids and numbers straight from the line bytes. */
function delimitedRowParser(target: RowTarget, plan: Plan): RowParser {
  const { path, options, events, builder, userIds, itemIds } = target;
  const splitter = new FieldSplitter(plan.delimiter, plan.quoted);
  const { user, item, value, timestamp, eventType } = plan.columns;
  const defaultEvent = events.get(options.defaultEventType ?? (value >= 0 ? "rating" : "view"))!;
  const isoTimestamps = options.timestampFormat === "iso";
  const expected = plan.fieldCount;
  const number = (buf: Buffer, field: number, role: Role, line: number): number => {
    const parsed = splitter.escaped[field]
      ? parseNumberText(splitter.text(buf, field))
      : parseNumber(buf, splitter.starts[field]!, splitter.ends[field]!);
    if (!Number.isFinite(parsed)) throw badNumber(path, line, role, splitter.text(buf, field));
    return parsed;
  };
  const requireId = (field: number, role: Role, line: number): void => {
    if (splitter.starts[field] === splitter.ends[field]) {
      throw new DataError(path, line, `${role} id is empty`, `${role} id is empty`);
    }
  };
  const id = (interner: TokenInterner, buf: Buffer, field: number): number =>
    splitter.escaped[field]
      ? interner.internText(splitter.text(buf, field))
      : interner.intern(buf, splitter.starts[field]!, splitter.ends[field]!);
  let headerPending = plan.hasHeader;
  return (buf, start, end, line) => {
    if (headerPending) {
      headerPending = false;
      return;
    }
    const count = splitter.split(buf, start, end);
    if (count !== expected)
      throw fieldCountError(path, line, buf.toString("utf8", start, end), count, expected, plan.delimiter);
    // Validate everything first: a rejected row must not add its ids to the maps.
    requireId(user, "user", line);
    requireId(item, "item", line);
    const rowValue = value >= 0 ? number(buf, value, "value", line) : 1;
    let rowTime: number;
    if (timestamp < 0) rowTime = builder.length;
    else if (isoTimestamps) rowTime = isoSeconds(path, line, splitter.text(buf, timestamp));
    else rowTime = number(buf, timestamp, "timestamp", line);
    const rowEvent = eventType >= 0 ? eventCode(path, line, splitter.text(buf, eventType), events) : defaultEvent;
    builder.push(id(userIds, buf, user), id(itemIds, buf, item), rowValue, rowTime, rowEvent);
  };
}

/** A row parser for JSON lines (one object per line); keys default by common names from the first object. */
function jsonRowParser(target: RowTarget, firstLine: string): RowParser {
  const { path, options, events, builder, userIds, itemIds } = target;
  const first = parseJsonObject(path, 1, firstLine);
  const names = Object.keys(first);
  const keys = {} as Record<Role, string | undefined>;
  for (const role of ROLES) {
    const ref = options.columns?.[role];
    if (typeof ref === "number") throw new TypeError(`jsonl: columns.${role} must be a key name, not an index`);
    const index = resolveColumn(path, role, ref, names, names.length, false);
    keys[role] = index >= 0 ? names[index] : undefined;
  }
  const defaultEvent = events.get(options.defaultEventType ?? (keys.value !== undefined ? "rating" : "view"))!;
  const field = (row: Record<string, unknown>, role: Role, line: number): unknown => {
    const value = row[keys[role]!];
    if (value === undefined || value === null) {
      throw new DataError(path, line, `missing key ${quoteValue(keys[role]!)} (${role})`, `missing ${role} key`);
    }
    return value;
  };
  const number = (row: Record<string, unknown>, role: Role, line: number): number => {
    const raw = field(row, role, line);
    const parsed = typeof raw === "number" ? raw : typeof raw === "string" ? parseNumberText(raw) : NaN;
    if (!Number.isFinite(parsed))
      throw badNumber(path, line, role, typeof raw === "string" ? raw : JSON.stringify(raw));
    return parsed;
  };
  const text = (row: Record<string, unknown>, role: Role, line: number): string => {
    const raw = field(row, role, line);
    if (typeof raw === "string" && raw !== "") return raw;
    if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
    throw new DataError(path, line, `${role} ${JSON.stringify(raw)} is not a string or number`, `bad ${role} id`);
  };
  return (buf, start, end, line) => {
    const row = parseJsonObject(path, line, buf.toString("utf8", start, end));
    const rowValue = keys.value !== undefined ? number(row, "value", line) : 1;
    let rowTime: number;
    if (keys.timestamp === undefined) rowTime = builder.length;
    else if (options.timestampFormat === "iso") rowTime = isoSeconds(path, line, text(row, "timestamp", line));
    else rowTime = number(row, "timestamp", line);
    const rowEvent =
      keys.eventType !== undefined ? eventCode(path, line, text(row, "eventType", line), events) : defaultEvent;
    const userText = text(row, "user", line);
    const itemText = text(row, "item", line);
    builder.push(userIds.internText(userText), itemIds.internText(itemText), rowValue, rowTime, rowEvent);
  };
}

function parseJsonObject(path: string, line: number, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DataError(path, line, `invalid JSON: ${(error as Error).message}`, "invalid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new DataError(path, line, "expected a JSON object", "invalid JSON");
  }
  return parsed as Record<string, unknown>;
}
