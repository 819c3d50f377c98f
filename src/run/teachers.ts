/** The teacher stage: train every configured teacher and keep the one with the best validation NDCG@10. */
import { TrainingFailure } from "../train/trainer.js";
import { round } from "./log.js";
import type { StageContext, TrainedModel } from "./record.js";
import { trainModel } from "./training.js";

/** Train and record every teacher; returns the best by validation NDCG@10 (the one students learn from). */
export async function teacherStage(stage: StageContext): Promise<TrainedModel> {
  const { config, prepared, record, common, log } = stage;
  let best: TrainedModel | undefined;
  for (const teacher of config.teachers) {
    log.info({ model: teacher.name, spec: teacher.model }, "training teacher");
    const result = await record.guarded(teacher.name, () =>
      trainModel(prepared, teacher.model, teacher.train, { ...common, name: teacher.name }),
    );
    if (!result) continue;
    const manifest = record.save({
      name: teacher.name,
      role: "teacher",
      model: result.model,
      spec: teacher.model,
      result,
      lineage: { data: config.data, seed: config.seed },
    });
    const valid = result.bestMetrics["NDCG@10"] ?? -Infinity;
    if (!best || valid > best.valid) {
      best = { name: teacher.name, model: result.model, spec: teacher.model, manifest, valid };
    }
  }
  if (!best) {
    const failed = record.failures.map((f) => `${f.model}: ${f.message}`).join("\n");
    if (failed) throw new TrainingFailure(`no teacher could be trained:\n${failed}`, "random-loss", 0);
    throw new Error("the run has no teacher to train");
  }
  log.info({ teacher: best.name, validNDCG10: round(best.valid) }, "best teacher (by validation NDCG@10)");
  return best;
}
