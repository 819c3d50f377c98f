/** The teacher stage: train every configured teacher and keep the one with the best validation NDCG@10. */
import { loadOnnxTeacher } from "../interop/onnx-teacher.js";
import { TrainingFailure, type TrainResult } from "../train/trainer.js";
import type { ModelConfig } from "./config.js";
import type { PreparedData } from "./data.js";
import { validator, type EvaluationSettings } from "./evaluation.js";
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
    const result = teacher.onnx
      ? await onnxTeacher(prepared, teacher, common)
      : (log.info({ model: teacher.name, spec: teacher.model }, "training teacher"),
        await record.guarded(teacher.name, () =>
          trainModel(prepared, teacher.model, teacher.train, { ...common, name: teacher.name }),
        ));
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
    const trained = { name: teacher.name, model: result.model, spec: teacher.model, manifest, valid };
    teachers.push(trained);
    if (!best || valid > best.valid) best = trained;
  }
  if (!best) {
    const failed = record.failures.map((f) => `${f.model}: ${f.message}`).join("\n");
    if (failed) throw new TrainingFailure(`no teacher could be trained:\n${failed}`, "random-loss", 0);
    throw new Error("the run has no teacher to train");
  }
  log.info({ teacher: best.name, validNDCG10: round(best.valid) }, "best teacher (by validation NDCG@10)");
  return { best, teachers };
}

/** An ONNX teacher scored into its table (nothing to train), validated like a trained one. */
async function onnxTeacher(
  prepared: PreparedData,
  teacher: ModelConfig,
  common: { seed: number; evaluation: EvaluationSettings; log: StageContext["log"] },
): Promise<TrainResult> {
  const started = performance.now();
  const { context, dataset } = prepared;
  const model = await loadOnnxTeacher(teacher.onnx!, { context, users: dataset.users, items: dataset.items });
  const seconds = (performance.now() - started) / 1000;
  common.log.info({ model: teacher.name, file: teacher.onnx!.file, seconds: round(seconds) }, "ONNX teacher scored");
  const bestMetrics = validator(prepared, common.evaluation, common.seed)(model);
  return { model, history: [], bestMetrics, bestEpoch: 0, stoppedEarly: false };
}
