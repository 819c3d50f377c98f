/**
 * Multi-step distillation (teacher-assistant knowledge distillation, Mirzadeh et al. 2020): when the gap
 * between teacher and student is large, distil through intermediate models — teacher → assistant →
 * student — each step learning from the soft labels (or, for hints, the representation) of the model
 * trained just before it.
 */
import type { ModelSpec } from "../models/zoo.js";
import type { Recommender } from "../models/recommender.js";
import type { DistillWeights } from "./losses.js";
import { generateSoftLabels, type SoftLabelOptions, type SoftLabels } from "./soft-labels.js";
import type { TrainResult } from "../train/trainer.js";
import { distill, type DistillOptions } from "./distill.js";

/** One step of the chain: the model to train and how it learns from its predecessor. */
export interface ChainStep {
  spec: ModelSpec;
  weights: DistillWeights;
  /** Overrides of the shared training options for this step (e.g. a larger lr for a small model). */
  train?: Partial<SharedTrainOptions>;
  /** A name for logs and reports (default: "step <k>"). */
  name?: string;
}

/** The training options every step shares (everything but the model, its weights and what it learns from). */
export type SharedTrainOptions = Omit<DistillOptions, "model" | "weights" | "softLabels" | "teacher">;

/** Options of {@link distillChain}. */
export interface ChainOptions {
  /** The trained model the chain starts from. */
  teacher: Recommender;
  /** Models to train in order, e.g. [teacherAssistant, student]; the last one is the final student. */
  steps: ChainStep[];
  softLabelOptions: SoftLabelOptions;
  trainOptions: SharedTrainOptions;
  /** Called when a step starts training (for logs). */
  onStep?: (index: number, step: ChainStep) => void;
}

/** One trained step of the chain. */
export interface ChainStage {
  name: string;
  spec: ModelSpec;
  weights: DistillWeights;
  /** The soft labels it learned from (generated from the previous model). */
  softLabels: SoftLabels;
  model: Recommender;
  result: TrainResult;
}

/** The outcome of {@link distillChain}. */
export interface ChainResult {
  stages: ChainStage[];
  /** The last stage's model. */
  student: Recommender;
}

/**
 * Train `steps` in order: each step generates soft labels from the previous model (the teacher for the
 * first step) with generateSoftLabels and trains its spec with distill(), with the previous model as the
 * hint teacher, using the shared training options merged with the step's own overrides.
 */
export async function distillChain(options: ChainOptions): Promise<ChainResult> {
  if (options.steps.length === 0) throw new RangeError("distillChain: no steps to train");
  const stages: ChainStage[] = [];
  let previous = options.teacher;
  for (const [index, step] of options.steps.entries()) {
    options.onStep?.(index, step);
    const softLabels = generateSoftLabels(previous, options.softLabelOptions);
    const result = await distill({
      ...options.trainOptions,
      ...step.train,
      model: step.spec,
      weights: step.weights,
      softLabels,
      teacher: previous,
    });
    stages.push({
      name: step.name ?? `step ${index + 1}`,
      spec: step.spec,
      weights: step.weights,
      softLabels,
      model: result.model,
      result,
    });
    previous = result.model;
  }
  return { stages, student: previous };
}
