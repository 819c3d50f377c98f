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
  /** Where the student came from. */
  studentDir: string;
  /** Where the teacher came from (undefined: none, re-distillation off). */
  teacherDir: string | undefined;
}

/**
 * The student artefact at `studentDir` and its teacher as online models. The teacher is `teacherDir`, else
 * the one its lineage names beside it, else none (`teacherDir: false` asks for none). Given several
 * student directories, the first that verifies is the student: each one refused before it is passed to
 * `onSkip` with the reason, and the last one's refusal is thrown.
 */
export function openOnline(
  studentDirs: string | readonly string[],
  teacherDir: string | false | undefined,
  options: OnlineModelOptions = {},
  onSkip?: (dir: string, reason: string) => void,
): OpenedOnline {
  const { dir: studentDir, artefact } = loadFirst(
    typeof studentDirs === "string" ? [studentDirs] : studentDirs,
    onSkip,
  );
  const found = teacherDir === false ? undefined : (teacherDir ?? findTeacherBeside(studentDir, artefact.manifest));
  const teacherArtefact = found ? loadArtefact(found) : undefined;
  return {
    student: new OnlineModel(artefact, options),
    teacher: teacherArtefact ? new OnlineModel(teacherArtefact, options) : null,
    artefact,
    studentDir,
    teacherDir: found,
  };
}

function loadFirst(
  dirs: readonly string[],
  onSkip: ((dir: string, reason: string) => void) | undefined,
): { dir: string; artefact: LoadedArtefact } {
  for (const [i, dir] of dirs.entries()) {
    try {
      return { dir, artefact: loadArtefact(dir) };
    } catch (err) {
      if (i === dirs.length - 1) throw err;
      onSkip?.(dir, (err as Error).message);
    }
  }
  throw new Error("openOnline: no student artefact given");
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
