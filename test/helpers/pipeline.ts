// The tiny pipeline config the pipeline tests run: a small shop, a BPR-MF teacher and student, ranking
// distillation, and the compression stage a test asks for.
import { validatePipelineConfig, type PipelineConfig } from "../../src/run/config.js";

/** Raw compression settings, as a config file gives them. */
interface RawCompression {
  steps: string[];
  budget: number;
  fineTuneEpochs: number;
}

/** The tiny pipeline writing to `out`, with `compression` when given. */
export function tinyPipelineConfig(out: string, compression?: RawCompression): PipelineConfig {
  return validatePipelineConfig({
    name: "tiny",
    threads: 1,
    data: { kind: "synthetic", synthetic: { users: 200, items: 100, events: 5000 } },
    evaluation: { negatives: 50, validationNegatives: 20 },
    teachers: [{ name: "teacher", model: { kind: "bpr-mf", dim: 16, seed: 1 }, train: { epochs: 2 } }],
    student: { model: { kind: "bpr-mf", dim: 4, seed: 2 }, train: { epochs: 2 } },
    distillation: {
      methods: [{ name: "ranking", weights: { hard: 1, ranking: 0.5 } }],
      softLabels: { negatives: 10, topK: 5 },
    },
    ...(compression ? { compression } : {}),
    output: { dir: out },
  });
}
