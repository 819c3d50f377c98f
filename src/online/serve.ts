/**
 * Online learning inside the server (`serve --online`): the learner the server starts beside its
 * registry. Unless the server resumes a version recorded in the state directory, the newest student an
 * earlier run published there that verifies is served instead of the artefact asked for (a corrupt one is
 * skipped with a warning). The learner resumes its own line: the student serving if it is one it published,
 * else the newest one that verifies, else the artefact asked for; and after the last event that one learned.
 */
import { dirname, resolve } from "node:path";
import { findTeacherBeside, readManifest } from "../models/artefact.js";
import type { LearnerFactory } from "../serve/server.js";
import { publishedDirs } from "./artefacts.js";
import type { OnlineLoopOptions } from "./loop.js";
import type { OnlineModelOptions } from "./model.js";
import { OnlineService } from "./service.js";

/** Online learning inside the server. */
export interface OnlineServeOptions {
  /** The teacher artefact (false: none, no re-distillation; default the one beside the model, if any). */
  teacher?: string | false;
  /** Publish the incrementally updated student every this many events (default 10 000; 0: only on promotion). */
  publishEvery?: number;
  /** Events per learning step (default 256). */
  batch?: number;
  model?: OnlineModelOptions;
  loop?: OnlineLoopOptions;
}

/** The learner for startServer's `learner` option: keeps the served student learning from the events. */
export function onlineLearning(options: OnlineServeOptions = {}): LearnerFactory {
  return ({ model, stateDir }) => {
    const outDir = resolve(stateDir, "online");
    const published = publishedDirs(outDir).reverse();
    return {
      serve: published,
      start: ({ registry, store, metrics, logger, serving }) => {
        const teacher = options.teacher ?? findTeacherBeside(model, readManifest(model)) ?? false;
        const own = dirname(serving) === outDir;
        return OnlineService.start({
          registry,
          store,
          metrics,
          ...(logger ? { logger } : {}),
          keep: 3,
          config: {
            studentDirs: own ? [serving] : [...published, resolve(model)],
            teacherDir: teacher === false ? false : resolve(teacher),
            outDir,
            publishEvery: options.publishEvery ?? 10_000,
            flushMs: 1000,
            model: options.model ?? {},
            loop: { ...(options.batch === undefined ? {} : { batch: options.batch }), ...options.loop },
          },
        });
      },
    };
  };
}
