/**
 * Where the serving model came from, as the dashboard shows it: its lineage in the manifest, the teacher it
 * was distilled from, and the report of the pipeline run that produced it — found on disk from the
 * artefact's place, never named to a client by path.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { readManifest, type ArtefactManifest } from "../models/artefact.js";

/** The lineage fields a client sees (the data config is left out: it holds server paths). */
const SHOWN = [
  "role",
  "method",
  "teacher",
  "assistant",
  "dataset",
  "run",
  "compressedFrom",
  "budget",
  "onlineFrom",
  "onlineEvents",
  "onlineReason",
] as const;

/** The manifest's lineage, reduced to the fields shown and to strings and numbers. */
export function shownLineage(manifest: ArtefactManifest): Record<string, string | number> {
  const shown: Record<string, string | number> = {};
  for (const key of SHOWN) {
    const value = manifest.lineage[key];
    if (typeof value === "string" || (typeof value === "number" && Number.isFinite(value))) shown[key] = value;
  }
  return shown;
}

/** A model's size and quality, for the teacher beside the student. */
export interface ModelBrief {
  version: string;
  kind: string;
  parameters: number;
  /** Bytes of weights.bin. */
  fileBytes: number;
  metrics: Record<string, number>;
}

export function brief(manifest: ArtefactManifest): ModelBrief {
  return {
    version: manifest.id,
    kind: manifest.kind,
    parameters: manifest.parameters,
    fileBytes: manifest.files["weights.bin"].bytes,
    metrics: manifest.metrics,
  };
}

/**
 * The manifest of the teacher the lineage names (by id), looked for beside the artefact and in the models
 * directory (an online student is published elsewhere, but keeps its lineage); undefined when not found.
 */
export function teacherOf(dir: string, manifest: ArtefactManifest, modelsDir: string): ArtefactManifest | undefined {
  const id = manifest.lineage.teacher;
  if (typeof id !== "string") return undefined;
  for (const parent of unique([dirname(resolve(dir)), resolve(modelsDir)])) {
    let entries;
    try {
      entries = readdirSync(parent, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      try {
        const sibling = readManifest(join(parent, entry.name));
        if (sibling.id === id) return sibling;
      } catch {
        // Not an artefact, or a broken one: keep looking.
      }
    }
  }
  return undefined;
}

/**
 * The report.html of the run that produced the artefact: a run directory holds `models/<artefact>`,
 * summary.json and report.html, and its summary's name is the lineage's `run`. Looked for above the
 * artefact and above the models directory (where the artefact an online student grew from lies).
 */
export function runReportOf(
  dir: string,
  manifest: ArtefactManifest,
  modelsDir: string,
): { run: string; path: string } | undefined {
  const run = manifest.lineage.run;
  if (typeof run !== "string") return undefined;
  for (const runDir of unique([dirname(dirname(resolve(dir))), dirname(resolve(modelsDir))])) {
    const report = join(runDir, "report.html");
    try {
      const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as { name?: unknown };
      if (summary.name === run && existsSync(report)) return { run, path: report };
    } catch {
      // No run here.
    }
  }
  return undefined;
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}
