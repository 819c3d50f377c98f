/**
 * A run re-run into its own directory leaves there only the new run's models: the models the earlier run
 * listed in its summary.json that the new run did not write again are removed, and nothing else is.
 */
import { lstatSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { readManifest, removeArtefactFiles } from "../models/artefact.js";
import type { PipelineLog } from "./log.js";
import type { RunPaths } from "./record.js";

/**
 * Remove the earlier run's models that are not among `written` (this run's model names). Called once the run
 * has saved every model of its own and before it writes its summary.json, which is still the earlier run's.
 * A model directory is removed only if the earlier summary lists it and its manifest says that run wrote it;
 * of that directory only the artefact's files go (removeArtefactFiles). Returns the names removed.
 */
export function removeEarlierRunModels(paths: RunPaths, written: readonly string[], log: PipelineLog): string[] {
  const earlier = earlierRun(paths.summary);
  if (!earlier) return [];
  const keep = new Set(written);
  const removed = earlier.models.filter(
    (name) => !keep.has(name) && writtenByRun(join(paths.models, name), earlier.name),
  );
  for (const name of removed) removeArtefactFiles(join(paths.models, name));
  if (removed.length) log.info({ removed }, "removed the earlier run's models this run did not make again");
  return removed;
}

/** The run name and model names an earlier run's summary.json records; undefined if there is none to read. */
function earlierRun(summaryPath: string): { name: string; models: string[] } | undefined {
  let summary: unknown;
  try {
    summary = JSON.parse(readFileSync(summaryPath, "utf8"));
  } catch {
    // No summary (a new directory, or a run killed before the end), or not one a run wrote: nothing to go by.
    return undefined;
  }
  const { name, models } = (summary ?? {}) as { name?: unknown; models?: unknown };
  if (typeof name !== "string" || !Array.isArray(models)) return undefined;
  const names = models.map((m) => (m as { name?: unknown } | null)?.name);
  // A model's directory is models/<name>: a name that is not one plain path segment points elsewhere.
  return { name, models: names.filter((n): n is string => typeof n === "string" && isPlainSegment(n)) };
}

function isPlainSegment(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && basename(name) === name && !name.includes("\\");
}

/** Whether `dir` is a real directory (not a link) holding an artefact saved by the run named `run`. */
function writtenByRun(dir: string, run: string): boolean {
  try {
    if (!lstatSync(dir).isDirectory()) return false;
    return readManifest(dir).lineage.run === run;
  } catch {
    // Gone already, or not an artefact: not ours to remove.
    return false;
  }
}
