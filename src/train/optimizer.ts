/** Optimiser settings of a training run and the optimiser they build. */
import { Adagrad, Adam, AdamW, SGD, type Optimizer } from "../engine/optim.js";
import type { Tensor } from "../engine/tensor.js";

/** The optimisers a training run can use. */
export type OptimizerKind = "adam" | "adamw" | "adagrad" | "sgd";

/** Optimiser settings; omitted fields take the optimiser's own defaults (AdamW: weight decay 0.01). */
export interface OptimizerSettings {
  optimizer: OptimizerKind;
  lr: number;
  weightDecay?: number;
  /** SGD only. */
  momentum?: number;
}

/** Build an optimiser over `params`. */
export function createOptimizer(settings: OptimizerSettings, params: Tensor[]): Optimizer {
  const base = {
    lr: settings.lr,
    ...(settings.weightDecay === undefined ? {} : { weightDecay: settings.weightDecay }),
  };
  switch (settings.optimizer) {
    case "adam":
      return new Adam(params, base);
    case "adamw":
      return new AdamW(params, base);
    case "adagrad":
      return new Adagrad(params, base);
    case "sgd":
      return new SGD(params, { ...base, momentum: settings.momentum });
    default:
      throw new Error(
        `unknown optimizer "${(settings as { optimizer: string }).optimizer}" (known: adam, adamw, adagrad, sgd)`,
      );
  }
}
