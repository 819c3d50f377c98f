/**
 * Classification metrics (click / purchase tasks) of predicted probabilities: AUC, GAUC, log loss and the
 * thresholded accuracy, precision, recall and F1.
 */
import { auc, binaryMetrics, gauc, logLoss } from "./metrics.js";

/** Rows of a classification task (e.g. click or purchase prediction). */
export interface ClassificationRows {
  users: Int32Array;
  items: Int32Array;
  /** 1 for positive rows, 0 for negative ones. */
  labels: ArrayLike<number>;
  /** Groups for GAUC (default: the users). */
  groups?: ArrayLike<number>;
}

/**
 * Classification metrics of predicted probabilities: `AUC`, `GAUC`, `LogLoss`, and at `threshold` (default
 * 0.5) `Accuracy`, `Precision`, `Recall`, `F1`; plus `count`. `predict` gets the rows in chunks of `batchSize`;
 * {@link classificationMetrics} does the same from probabilities at hand.
 */
export function evaluateClassification(
  predict: (users: Int32Array, items: Int32Array) => Float32Array,
  rows: ClassificationRows,
  options: { threshold?: number; batchSize?: number } = {},
): Record<string, number> {
  const { threshold = 0.5, batchSize = 65536 } = options;
  const n = rows.users.length;
  if (rows.items.length !== n || rows.labels.length !== n) {
    throw new RangeError(
      `evaluateClassification: ${n} users, ${rows.items.length} items, ${rows.labels.length} labels`,
    );
  }
  const probabilities = new Float32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const part = predict(rows.users.subarray(start, end), rows.items.subarray(start, end));
    if (part.length !== end - start) throw new RangeError(`predict returned ${part.length} for ${end - start} rows`);
    probabilities.set(part, start);
  }
  return classificationMetrics(probabilities, rows.labels, rows.groups ?? rows.users, threshold);
}

/** The metrics of {@link evaluateClassification} from probabilities, labels and GAUC groups (one per row). */
export function classificationMetrics(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: ArrayLike<number>,
  threshold = 0.5,
): Record<string, number> {
  const binary = binaryMetrics(probabilities, labels, threshold);
  return {
    AUC: auc(probabilities, labels),
    GAUC: gauc(probabilities, labels, groups),
    LogLoss: logLoss(probabilities, labels),
    Accuracy: binary.accuracy,
    Precision: binary.precision,
    Recall: binary.recall,
    F1: binary.f1,
    count: probabilities.length,
  };
}
