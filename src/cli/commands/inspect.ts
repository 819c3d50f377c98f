/**
 * `distillrec inspect <file>`: verify a parameter file (docs/FORMAT.md) and show what it holds, without
 * starting the WebAssembly runtime.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { decodeParameters, ParameterFileError, type Dtype, type Layout } from "../../engine/serialize.js";
import { count, formatTable } from "./common.js";

export interface TensorSummary {
  name: string;
  dtype: Dtype;
  /** "dense", "sparse" (with its non-zeros) or "lowrank" (with its rank). */
  layout: Layout;
  /** Values actually stored: every element, the non-zeros, or the factors' entries. */
  stored: number;
  rank?: number;
  shape: number[];
  elements: number;
  /** Bytes of the tensor's data block, without alignment padding. */
  bytes: number;
}

export interface ParameterFileSummary {
  file: string;
  /** Size of the whole file. */
  bytes: number;
  version: number;
  /** The verified CRC-32, as 0x-prefixed hex. */
  checksum: string;
  meta: Record<string, unknown>;
  tensors: TensorSummary[];
}

/** Read and verify a parameter file, summarising everything but the values; throws if it is refused. */
export function summarizeParameterFile(path: string): ParameterFileSummary {
  const file = readParameterFile(path);
  const { version, checksum, meta, tensors } = decodeParameters(file, path);
  return {
    file: path,
    bytes: file.length,
    version,
    checksum: `0x${checksum.toString(16).padStart(8, "0")}`,
    meta,
    tensors: [...tensors].map(([name, { dtype, layout, stored, rank, shape, data, bytes }]) => ({
      name,
      dtype,
      layout,
      stored,
      ...(rank === undefined ? {} : { rank }),
      shape,
      elements: data.length,
      bytes,
    })),
  };
}

/** The file's bytes; a directory is refused naming it (Node's EISDIR message has no path; ENOENT's has). */
function readParameterFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EISDIR") throw new ParameterFileError(path, "a directory, not a file");
    throw err;
  }
}

/** The human-readable report of `distillrec inspect`: format version, meta, a tensor table and the checksum. */
export function describeParameterFile(path: string): string {
  const summary = summarizeParameterFile(path);
  const rows = summary.tensors.map((t) => [
    t.name,
    t.dtype,
    t.layout === "lowrank" ? `lowrank ${t.rank}` : t.layout,
    `[${t.shape.join(", ")}]`,
    count(t.elements),
    count(t.stored),
    count(t.bytes),
  ]);
  const total = (key: "elements" | "stored" | "bytes") => count(summary.tensors.reduce((sum, t) => sum + t[key], 0));
  const plural = summary.tensors.length === 1 ? "" : "s";
  const table = formatTable(
    ["name", "dtype", "layout", "shape", "elements", "stored", "bytes"],
    [
      ...rows,
      [
        `total (${summary.tensors.length} tensor${plural})`,
        "",
        "",
        "",
        total("elements"),
        total("stored"),
        total("bytes"),
      ],
    ],
    [false, false, false, false, true, true, true],
  );
  return [
    `file      ${summary.file} (${count(summary.bytes)} bytes)`,
    `format    distillrec parameters, version ${summary.version}`,
    `meta      ${JSON.stringify(summary.meta)}`,
    "",
    ...table,
    "",
    `checksum OK (crc32 ${summary.checksum})`,
  ].join("\n");
}

/** The `inspect` subcommand; a refused or unreadable file is reported as one line on stderr, exit code 1. */
export function inspectCommand(): Command {
  const command = new Command("inspect")
    .description("verify a parameter file and show its format version, metadata and tensors")
    .argument("<file>", "parameter file to inspect")
    .option("--json", "print the summary as JSON")
    .action((file: string, options: { json?: boolean }) => {
      let report: string;
      try {
        report = options.json ? JSON.stringify(summarizeParameterFile(file), null, 2) : describeParameterFile(file);
      } catch (err) {
        if (err instanceof ParameterFileError || isFileSystemError(err)) {
          command.error(`error: ${err.message}`, { exitCode: 1, code: "distillrec.inspect.refused" });
        }
        throw err;
      }
      const write = command.configureOutput().writeOut ?? ((text: string) => process.stdout.write(text));
      write(`${report}\n`);
    });
  return command;
}

function isFileSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string";
}
