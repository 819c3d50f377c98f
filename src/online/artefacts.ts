/**
 * Online learning over model artefacts: open a student (and its teacher) as online models, and save the
 * serving student as an ordinary artefact — every id it has a row for, lineage naming what it grew from —
 * that `serve` can swap in and `evaluate` can read.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  findTeacherBeside,
  loadArtefact,
  readManifest,
  saveArtefact,
  type ArtefactManifest,
} from "../models/artefact.js";
import type { LoadedArtefact } from "../models/artefact.js";
import { OnlineModel, type OnlineModelOptions } from "./model.js";

export interface OpenedOnline {
  student: OnlineModel;
  teacher: OnlineModel | null;
  artefact: LoadedArtefact;
  /** Where the teacher came from (undefined: none, re-distillation off). */
  teacherDir: string | undefined;
}

/**
 * The student artefact at `studentDir` and its teacher as online models. The teacher is `teacherDir`, else
 * the one its lineage names beside it, else none (`teacherDir: false` asks for none).
 */
export function openOnline(
  studentDir: string,
  teacherDir: string | false | undefined,
  options: OnlineModelOptions = {},
): OpenedOnline {
  const artefact = loadArtefact(studentDir);
  const found = teacherDir === false ? undefined : (teacherDir ?? findTeacherBeside(studentDir, artefact.manifest));
  const teacherArtefact = found ? loadArtefact(found) : undefined;
  return {
    student: new OnlineModel(artefact, options),
    teacher: teacherArtefact ? new OnlineModel(teacherArtefact, options) : null,
    artefact,
    teacherDir: found,
  };
}

/** Save the online student as an artefact at `dir`; its lineage names the artefact it grew from. */
export function saveOnline(
  dir: string,
  student: OnlineModel,
  from: LoadedArtefact,
  lineage: Record<string, unknown> = {},
): ArtefactManifest {
  const { model, users, items } = student.export();
  return saveArtefact(dir, {
    model,
    users,
    items,
    features: from.features,
    metrics: {},
    lineage: {
      ...from.manifest.lineage,
      onlineFrom: from.manifest.id,
      onlineEvents: student.learned,
      ...lineage,
    },
  });
}

/** A published student's directory name: its time and a counter, so names sort oldest first. */
export function publishedName(time: number, n: number): string {
  return `${String(time).padStart(14, "0")}-${String(n).padStart(6, "0")}`;
}

/** The students published in `outDir`, oldest first (full paths; none when it does not exist). */
export function publishedDirs(outDir: string): string[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d{14}-\d{6}$/.test(e.name))
    .map((e) => e.name)
    .sort()
    .map((name) => join(outDir, name));
}

/** The newest student published in `outDir` that reads back, with the last event it learned. */
export function latestPublished(outDir: string): { dir: string; seq: number } | undefined {
  for (const dir of publishedDirs(outDir).reverse()) {
    try {
      const seq = readManifest(dir).lineage.onlineSeq;
      if (typeof seq === "number") return { dir, seq };
    } catch {
      // A half-written or damaged directory: an older one will do.
    }
  }
  return undefined;
}
