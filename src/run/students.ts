/**
 * The student stage: the student alone ("none" / pure hard weights) and under every distillation method,
 * then, when configured, a teacher → assistant → student chain with the first method that distils.
 */
import { UniformSampler } from "../data/sampling.js";
import { distillChain } from "../distill/multistep.js";
import { hasSoftTerms } from "../distill/program.js";
import type { SoftLabels } from "../distill/soft-labels.js";
import type { TrainSettings } from "./config.js";
import { validator } from "./evaluation.js";
import type { StageContext, TrainedModel } from "./record.js";
import type { SoftLabelStage } from "./soft-labels.js";
import { trainModel } from "./training.js";

/** Train and record the student under every method, learning from `teacher`. */
export async function studentStage(stage: StageContext, teacher: TrainedModel, labels?: SoftLabels): Promise<void> {
  const { config, prepared, record, common, log } = stage;
  const student = config.student;
  for (const method of config.distillation.methods) {
    const weights = method.weights;
    const name = `student-${method.name}`;
    log.info({ model: name, method: method.name, weights }, "training student");
    const result = await record.guarded(name, () =>
      trainModel(prepared, student.model, student.train, {
        ...common,
        name,
        weights,
        softLabels: labels,
        teacher: teacher.model,
      }),
    );
    if (!result) continue;
    record.save({
      name,
      role: hasSoftTerms(weights) ? "distilled" : "student",
      model: result.model,
      spec: student.model,
      result,
      lineage: { teacher: teacher.manifest.id, data: config.data, seed: config.seed },
      method: method.name,
      teacher: teacher.model,
    });
  }
}

/** The teacher → assistant → student chain, when the config has an assistant; records both. */
export async function assistantStage(
  stage: StageContext,
  teacher: TrainedModel,
  labels: SoftLabelStage,
): Promise<void> {
  const { config, prepared, record, common, log } = stage;
  const assistant = config.distillation.assistant;
  if (!assistant) return;
  const method = config.distillation.methods.find((m) => hasSoftTerms(m.weights));
  if (!method) {
    log.warn({}, "assistant configured but no distillation method has soft terms: skipping the chain");
    return;
  }
  const { student } = config;
  const { weights } = method;
  const { seed, evaluation, threads } = common;
  log.info({ method: method.name }, "training the assistant chain");
  const chain = await distillChain({
    teacher: teacher.model,
    steps: [
      { name: "assistant", spec: assistant.model, weights, train: settingsOf(assistant.train ?? student.train) },
      { name: `student-${method.name}-via-assistant`, spec: student.model, weights, train: settingsOf(student.train) },
    ],
    softLabelOptions: labels.options,
    trainOptions: {
      context: prepared.context,
      data: prepared.samples,
      epochs: student.train.epochs,
      threads,
      seed,
      sampler: new UniformSampler(prepared.trainSeen, prepared.context.numItems, { seed }),
      validate: validator(prepared, evaluation, seed),
      progress: common.progress ?? false,
    },
  });
  const [assistantStep, studentStep] = chain.stages as [(typeof chain.stages)[0], (typeof chain.stages)[0]];
  const lineage = { teacher: teacher.manifest.id, data: config.data, seed };
  const assistantManifest = record.save({
    name: "assistant",
    role: "assistant",
    model: assistantStep.model,
    spec: assistant.model,
    result: assistantStep.result,
    lineage,
    method: method.name,
    teacher: teacher.model,
  });
  record.save({
    name: studentStep.name,
    role: "distilled",
    model: studentStep.model,
    spec: student.model,
    result: studentStep.result,
    lineage: { ...lineage, assistant: assistantManifest.id },
    method: `${method.name} via assistant`,
    teacher: teacher.model,
  });
}

/** A chain step's training settings, from the configured ones (unset options left out). */
function settingsOf(s: TrainSettings) {
  return {
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    optimizer: s.optimizer,
    patience: s.patience,
    ...(s.schedule === undefined ? {} : { schedule: s.schedule }),
    ...(s.weightDecay === undefined ? {} : { weightDecay: s.weightDecay }),
  };
}
