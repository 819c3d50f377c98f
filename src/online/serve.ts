/**
 * Online learning inside the server (`serve --online`): the learner the server starts beside its
 * registry. A student published by an earlier run in the state directory is served instead of the
 * artefact asked for, and learning resumes after the last event it learned.
 */
import { join, resolve } from "node:path";
import { findTeacherBeside, readManifest } from "../models/artefact.js";
import type { LearnerFactory } from "../serve/server.js";
import { latestPublished } from "./artefacts.js";
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
    const outDir = join(stateDir, "online");
    const resumed = latestPublished(outDir);
    return {
      serve: resumed?.dir ?? model,
      start: ({ registry, store, metrics, logger, serving }) => {
        const teacher = options.teacher ?? findTeacherBeside(model, readManifest(model)) ?? false;
        return OnlineService.start({
          registry,
          store,
          metrics,
          ...(logger ? { logger } : {}),
          ...(resumed ? { fromSeq: resumed.seq + 1 } : {}),
          config: {
            studentDir: serving,
            teacherDir: teacher === false ? false : resolve(teacher),
            outDir,
            publishEvery: options.publishEvery ?? 10_000,
            flushMs: 1000,
            keep: 3,
            model: options.model ?? {},
            loop: { ...(options.batch === undefined ? {} : { batch: options.batch }), ...options.loop },
          },
        });
      },
    };
  };
}
