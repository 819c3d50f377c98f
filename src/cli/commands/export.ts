/**
 * `distillrec export --model DIR --format onnx --out FILE`: a student artefact as ONNX graphs (scores,
 * user encoder, item table) with its id maps beside (docs/INTEROP.md).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Command, Option } from "commander";
import { loadArtefact } from "../../models/artefact.js";
import { exportOnnx, OnnxExportError, onnxPaths } from "../../interop/onnx-export.js";
import type { OnnxPrecision } from "../../interop/onnx-graph.js";
import { exportWeb, type WebStudent } from "../../interop/web-export.js";
import { UsageError } from "./common.js";

export interface ExportOptions {
  model: string;
  format: string;
  out: string;
  precision: OnnxPrecision;
}

/** Write the ONNX export of the artefact at `options.model`; returns the files written and their sizes. */
export function exportModel(options: ExportOptions): { file: string; bytes: number }[] {
  if (options.format !== "onnx" && options.format !== "web") {
    throw new UsageError(`export: --format must be onnx or web, got "${options.format}"`);
  }
  const { model, users, items, manifest } = loadArtefact(options.model);
  let exported;
  try {
    if (options.format === "web") return writeWeb(exportWeb(model, { users, items }, manifest.id), options.out);
    exported = exportOnnx(model, { users, items }, options.precision);
  } catch (err) {
    if (err instanceof OnnxExportError) throw new UsageError(`export: ${err.message}`);
    throw err;
  }
  const paths = onnxPaths(options.out);
  mkdirSync(dirname(paths.scores), { recursive: true });
  const files: [string, Uint8Array | string][] = [
    [paths.scores, exported.scores],
    [paths.user, exported.user],
    [paths.items, exported.items],
    [paths.ids, JSON.stringify(exported.ids)],
  ];
  return files.map(([file, data]) => {
    writeFileSync(file, data);
    return { file, bytes: typeof data === "string" ? Buffer.byteLength(data) : data.length };
  });
}

/** The web form (docs/INTEROP.md) into directory `out`: model.json and tables.bin. */
function writeWeb(web: WebStudent, out: string): { file: string; bytes: number }[] {
  mkdirSync(out, { recursive: true });
  const manifest = JSON.stringify(web.manifest);
  writeFileSync(join(out, "model.json"), manifest);
  writeFileSync(join(out, "tables.bin"), web.tables);
  return [
    { file: join(out, "model.json"), bytes: Buffer.byteLength(manifest) },
    { file: join(out, "tables.bin"), bytes: web.tables.length },
  ];
}

export function exportCommand(): Command {
  return new Command("export")
    .description(
      "export a student artefact (bpr-mf, two-tower, sasrec) as ONNX (scores, user encoder and item table graphs) or its web form (bpr-mf, two-tower)",
    )
    .requiredOption("--model <dir>", "the student artefact directory")
    .addOption(new Option("--format <format>", "output format").choices(["onnx", "web"]).default("onnx"))
    .requiredOption(
      "--out <file>",
      "onnx: the scores graph (FILE.user.onnx, FILE.items.onnx, FILE.ids.json beside it); web: a directory",
    )
    .addOption(
      new Option("--precision <p>", "how tables are stored: f32, f16 (Cast) or int8 (DequantizeLinear)")
        .choices(["f32", "f16", "int8"])
        .default("f32"),
    )
    .action((opts: ExportOptions) => {
      for (const { file, bytes } of exportModel(opts)) console.log(`${file}  ${bytes} bytes`);
    });
}
