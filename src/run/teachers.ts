/** The teacher stage: train every configured teacher and keep the one with the best validation NDCG@10. */
import { round } from "./log.js";
import type { StageContext, TrainedModel } from "./record.js";
import { trainModel } from "./training.js";

/** The teacher stage's outcome: the best teacher by validation NDCG@10, and every trained teacher in config order. */
export interface TeacherStage {
  best: TrainedModel;
  teachers: TrainedModel[];
}

/** Train and record every teacher; the best by validation NDCG@10 is the one students learn from. */
export async function teacherStage(stage: StageContext): Promise<TeacherStage> {
  const { config, prepared, record, common, log } = stage;
  let best: TrainedModel | undefined;
  const teachers: TrainedModel[] = [];
  for (const teacher of config.teachers) {
    log.info({ model: teacher.name, spec: teacher.model }, "training teacher");
    const result = await trainModel(prepared, teacher.model, teacher.train, { ...common, name: teacher.name });
    const manifest = record.save({
      name: teacher.name,
      role: "teacher",
      model: result.model,
      spec: teacher.model,
      result,
      lineage: { data: config.data, seed: config.seed },
    });
    const valid = result.bestMetrics["NDCG@10"] ?? -Infinity;
    const trained = { name: teacher.name, model: result.model, spec: teacher.model, manifest, valid };
    teachers.push(trained);
    if (!best || valid > best.valid) best = trained;
  }
  if (!best) throw new Error("the run has no teacher to train");
  log.info({ teacher: best.name, validNDCG10: round(best.valid) }, "best teacher (by validation NDCG@10)");
  return { best, teachers };
}
