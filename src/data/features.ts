// Side-feature readers: RecBole .user/.item files and CSV/TSV with a declared schema, aligned to dense indices.
import { basename } from "node:path";
import { BadRowPolicy, DataError, quoteValue, type ReadReport } from "./errors.js";
import { IdMap } from "./idmap.js";
import { FieldSplitter, numberProblem, parseNumberText } from "./readers/fields.js";
import { fieldCountError, parseRecBoleHeader, splitHeader, wrongDelimiterError } from "./readers/header.js";
import { DEFAULT_CHUNK_SIZE, forEachLine, readHead } from "./readers/lines.js";
import type { FeatureTable } from "./types.js";

/** Reserved vocab entry 0 of every categorical and multi-valued column: unknown or missing token. */
export const UNKNOWN_TOKEN = "[UNK]";

export type FeatureKind = "categorical" | "multi" | "numeric";

export interface ReadFeaturesOptions {
  /** Default "auto": .user/.item or a `name:type` header → recbole, .csv → csv, .tsv → tsv. */
  format?: "recbole" | "csv" | "tsv" | "auto";
  /** The column holding the entity id. Default: the first column. */
  idColumn?: string;
  /** Columns to read and how. Required for CSV/TSV; for RecBole it selects and overrides the header types. */
  schema?: Record<string, FeatureKind>;
  /** Separator of multi-valued cells. Default " " for RecBole (token_seq), "|" for CSV/TSV. */
  listSeparator?: string;
  /** CSV/TSV: override the delimiter. */
  delimiter?: string;
  /** Skip bad rows and report them instead of throwing on the first one. */
  lenient?: boolean;
  /** Read size in bytes. */
  chunkSize?: number;
}

export interface FeatureRead {
  table: FeatureTable;
  /** Rows whose id is not in the id map (e.g. users without interactions); they are ignored. */
  unmatchedRows: number;
  /** Entities of the id map without a row; they get [UNK] tokens and missing numbers. */
  entitiesWithoutRow: number;
  /** Rows skipped in lenient mode. */
  report: ReadReport;
}

/** One column's accumulator: `parse` validates a cell without side effects, `commit` stores it for an entity. */
interface ColumnReader<Parsed> {
  parse(cell: string, line: number): Parsed;
  commit(entity: number, value: Parsed): void;
}

/** A new vocab holding only [UNK] at id 0. */
function newVocab(): IdMap {
  const vocab = new IdMap();
  vocab.add(UNKNOWN_TOKEN);
  return vocab;
}

/**
 * Reads side features for the entities of `ids`, one row per dense index: categorical tokens and multi-valued
 * token lists get vocab ids (0 = [UNK] for unknown/missing), numeric columns are z-scored with missing values
 * imputed to 0 and flagged. Rows for ids not in `ids` are counted and ignored; vocabularies only hold tokens of
 * matched rows.
 */
export async function readFeatures(path: string, ids: IdMap, options: ReadFeaturesOptions = {}): Promise<FeatureRead> {
  const { firstLine } = await readHead(path, 1 << 20);
  if (firstLine === undefined) throw new DataError(path, 0, "file is empty", "empty file");
  const format = !options.format || options.format === "auto" ? detectFeatureFormat(path, firstLine) : options.format;
  const delimiter = format === "recbole" ? "\t" : (options.delimiter ?? (format === "csv" ? "," : "\t"));
  const quoted = delimiter === ",";
  let names: string[];
  let kinds: Record<string, FeatureKind>;
  if (format === "recbole") {
    const header = parseRecBoleHeader(path, firstLine);
    names = header.names;
    kinds = {};
    for (let c = 0; c < names.length; c++) {
      const type = header.types[c]!;
      const kind =
        type === "token" ? "categorical" : type === "token_seq" ? "multi" : type === "float" ? "numeric" : null;
      if (kind) kinds[names[c]!] = kind;
      else if (!options.schema && c > 0) {
        const reason = `column ${quoteValue(names[c]!)} has type ${type}, which is not supported as a feature; select columns with options.schema`;
        throw new DataError(path, 1, reason, "unsupported feature type");
      }
    }
  } else {
    if (!options.schema) throw new TypeError(`readFeatures: options.schema is required for ${format} files`);
    names = splitHeader(firstLine, delimiter, quoted);
    kinds = {};
  }
  if (names.length < 2) throw wrongDelimiterError(path, firstLine, delimiter);

  const columnIndex = (name: string, what: string): number => {
    const index = names.indexOf(name);
    if (index >= 0) return index;
    const reason = `unknown ${what} ${quoteValue(name)}; available columns: ${names.join(", ")}`;
    throw new DataError(path, 1, reason, "unknown column");
  };
  const idIndex = options.idColumn === undefined ? 0 : columnIndex(options.idColumn, "id column");
  const selected: [string, FeatureKind][] = options.schema
    ? Object.entries(options.schema)
    : names.filter((_, c) => c !== idIndex).map((name) => [name, kinds[name]!]);
  const listSeparator = options.listSeparator ?? (format === "recbole" ? " " : "|");

  const table: FeatureTable = { categorical: {}, multi: {}, numeric: {} };
  const finishers: (() => void)[] = [];
  const readers: { index: number; reader: ColumnReader<unknown> }[] = [];
  for (const [name, kind] of selected) {
    const index = columnIndex(name, "column in schema");
    if (index === idIndex)
      throw new DataError(path, 1, `column ${quoteValue(name)} is the id column`, "unknown column");
    const column =
      kind === "categorical"
        ? categoricalColumn(table, name, ids.size)
        : kind === "multi"
          ? multiColumn(table, name, ids.size, listSeparator)
          : numericColumn(table, name, ids.size, path);
    readers.push({ index, reader: column.reader as ColumnReader<unknown> });
    finishers.push(column.finish);
  }

  const splitter = new FieldSplitter(delimiter, quoted);
  const policy = new BadRowPolicy(options.lenient ?? false);
  const firstLineOf = new Int32Array(ids.size);
  const parsed: unknown[] = new Array(readers.length);
  let rows = 0;
  let unmatchedRows = 0;
  await forEachLine(
    path,
    (buf, start, end, line) => {
      if (line === 1 || start === end) return;
      try {
        const count = splitter.split(buf, start, end);
        if (count !== names.length) {
          throw fieldCountError(path, line, buf.toString("utf8", start, end), count, names.length, delimiter);
        }
        const id = splitter.text(buf, idIndex);
        if (id === "") throw new DataError(path, line, "id is empty", "empty id");
        rows++;
        const entity = ids.get(id);
        if (entity === undefined) {
          unmatchedRows++;
          return;
        }
        if (firstLineOf[entity] !== 0) {
          const reason = `duplicate id ${quoteValue(id)} (first on line ${firstLineOf[entity]})`;
          throw new DataError(path, line, reason, "duplicate id");
        }
        for (let k = 0; k < readers.length; k++) {
          parsed[k] = readers[k]!.reader.parse(splitter.text(buf, readers[k]!.index), line);
        }
        firstLineOf[entity] = line;
        for (let k = 0; k < readers.length; k++) readers[k]!.reader.commit(entity, parsed[k]);
      } catch (error) {
        policy.handle(error);
      }
    },
    options.chunkSize ?? DEFAULT_CHUNK_SIZE,
  );
  if (rows === 0) {
    const skipped = policy.report.skipped;
    const reason = skipped > 0 ? `no valid rows (${skipped} skipped)` : "no rows (header only)";
    throw new DataError(path, 0, reason, "no rows");
  }
  for (const finish of finishers) finish();
  const entitiesWithoutRow = firstLineOf.reduce((n, line) => n + (line === 0 ? 1 : 0), 0);
  return { table, unmatchedRows, entitiesWithoutRow, report: policy.report };
}

/** The feature file format from its name, else from its header. */
function detectFeatureFormat(path: string, firstLine: string): "recbole" | "csv" | "tsv" {
  const name = basename(path).toLowerCase();
  if (
    name.endsWith(".user") ||
    name.endsWith(".item") ||
    /^[^\t:]+:(token|token_seq|float|float_seq)(\t|$)/.test(firstLine)
  ) {
    return "recbole";
  }
  if (name.endsWith(".csv")) return "csv";
  if (name.endsWith(".tsv") || name.endsWith(".tab")) return "tsv";
  return firstLine.includes("\t") ? "tsv" : "csv";
}

/** Single tokens; an entity without a row or with an empty cell gets [UNK]. */
function categoricalColumn(table: FeatureTable, name: string, entities: number) {
  const vocab = newVocab();
  const tokens = new Int32Array(entities);
  const reader: ColumnReader<string> = {
    parse: (cell) => cell,
    commit: (entity, cell) => {
      tokens[entity] = cell === "" ? 0 : vocab.add(cell);
    },
  };
  const finish = () => {
    table.categorical[name] = { vocab, ids: tokens };
  };
  return { reader, finish };
}

/** Token lists in CSR layout; an entity without a row or with an empty cell gets the single token [UNK]. */
function multiColumn(table: FeatureTable, name: string, entities: number, separator: string) {
  const vocab = newVocab();
  const lists: (Int32Array | undefined)[] = new Array(entities);
  const reader: ColumnReader<string[]> = {
    parse: (cell) => cell.split(separator).filter((token) => token !== ""),
    commit: (entity, tokens) => {
      lists[entity] = Int32Array.from(tokens, (token) => vocab.add(token));
    },
  };
  const finish = () => {
    const offsets = new Int32Array(entities + 1);
    for (let e = 0; e < entities; e++) offsets[e + 1] = offsets[e]! + Math.max(lists[e]?.length ?? 0, 1);
    const tokenIds = new Int32Array(offsets[entities]!);
    for (let e = 0; e < entities; e++) {
      const list = lists[e];
      if (list && list.length > 0) tokenIds.set(list, offsets[e]);
    }
    table.multi[name] = { vocab, offsets, ids: tokenIds };
  };
  return { reader, finish };
}

/** Raw numbers, z-scored at the end over the present values; empty cells are missing, NaN/Inf are errors. */
function numericColumn(table: FeatureTable, name: string, entities: number, path: string) {
  const raw = new Float64Array(entities);
  const missing = new Uint8Array(entities).fill(1);
  const reader: ColumnReader<number> = {
    parse: (cell, line) => {
      if (cell.trim() === "") return NaN;
      const value = parseNumberText(cell);
      if (!Number.isFinite(value)) {
        const problem = numberProblem(cell);
        throw new DataError(path, line, `${name} ${quoteValue(cell)} ${problem}`, `${name} ${problem}`);
      }
      return value;
    },
    commit: (entity, value) => {
      if (Number.isNaN(value)) return;
      raw[entity] = value;
      missing[entity] = 0;
    },
  };
  const finish = () => {
    let count = 0;
    let sum = 0;
    for (let e = 0; e < entities; e++) {
      if (!missing[e]) {
        count++;
        sum += raw[e]!;
      }
    }
    const mean = count > 0 ? sum / count : 0;
    let squares = 0;
    for (let e = 0; e < entities; e++) if (!missing[e]) squares += (raw[e]! - mean) ** 2;
    const std = count > 0 ? Math.sqrt(squares / count) : 0;
    // A constant column carries no signal: it normalises to 0 rather than dividing by zero.
    const scale = std > 0 ? 1 / std : 0;
    const values = new Float32Array(entities);
    for (let e = 0; e < entities; e++) values[e] = missing[e] ? 0 : (raw[e]! - mean) * scale;
    table.numeric[name] = { values, missing, mean, std };
  };
  return { reader, finish };
}

/**
 * How raw feature values of rows the data never had (a new item at serving time) become the ids and values
 * a model reads: each token column's vocabulary (token by id; id 0 is [UNK]) and each numeric column's
 * z-score parameters.
 */
export interface FeatureSchema {
  categorical: Record<string, string[]>;
  multi: Record<string, string[]>;
  numeric: Record<string, { mean: number; std: number }>;
}

/** The schema of a feature table. */
export function featureSchema(table: FeatureTable): FeatureSchema {
  return {
    categorical: Object.fromEntries(Object.entries(table.categorical).map(([name, c]) => [name, c.vocab.toJSON()])),
    multi: Object.fromEntries(Object.entries(table.multi).map(([name, m]) => [name, m.vocab.toJSON()])),
    numeric: Object.fromEntries(Object.entries(table.numeric).map(([name, n]) => [name, { mean: n.mean, std: n.std }])),
  };
}
