/** Optimiser settings of a training run and the optimiser they build. */
import { Adagrad, Adam, AdamW, SGD, type Optimizer, type TableUpdates } from "../engine/optim.js";
import type { Tensor } from "../engine/tensor.js";

/** The optimisers a training run can use. */
export type OptimizerKind = "adam" | "adamw" | "adagrad" | "sgd";

/** Optimiser settings; omitted fields take the optimiser's own defaults (AdamW: weight decay 0.01). */
export interface OptimizerSettings {
  optimizer: OptimizerKind;
  lr: number;
  /**
   * torch.optim's weight_decay: added to the gradient as wd·p (decoupled p *= 1 − lr·wd for AdamW), on every
   * parameter the optimiser updates — with lazy table updates only the batch's rows. It acts against the
   * loss as reduced (`lossReduction`): PyTorch reference code sums the batch's loss, where the default mean
   * makes the same number about batch-size times stronger.
   */
  weightDecay?: number;
  /** Embedding tables: only the batch's rows ("lazy", default, as torch SparseAdam) or every row ("dense"). */
  tableUpdates?: TableUpdates;
  /** SGD only. */
  momentum?: number;
  /** Adam and AdamW: the moments' decay rates β1, β2 (default 0.9, 0.999; SASRec's reference code: 0.9, 0.98). */
  betas?: [number, number];
}

function betasOf(settings: OptimizerSettings): { beta1?: number; beta2?: number } {
  return settings.betas ? { beta1: settings.betas[0], beta2: settings.betas[1] } : {};
}

/** Build an optimiser over `params`. */
export function createOptimizer(settings: OptimizerSettings, params: Tensor[]): Optimizer {
  const base = {
    lr: settings.lr,
    ...(settings.weightDecay === undefined ? {} : { weightDecay: settings.weightDecay }),
    ...(settings.tableUpdates === undefined ? {} : { tableUpdates: settings.tableUpdates }),
  };
  switch (settings.optimizer) {
    case "adam":
      return new Adam(params, { ...base, ...betasOf(settings) });
    case "adamw":
      return new AdamW(params, { ...base, ...betasOf(settings) });
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
