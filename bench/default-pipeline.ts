/**
 * The default pipeline (`npm start`) over several seeds, as bench:flagship and bench:methods run it: each
 * seed's config, and each model's test metrics over the seeds' summaries (mean ± sd).
 */
import { defaultPipelineConfig, type PipelineConfig } from "../src/run/config.js";
import type { ModelSummary, ReferenceSummary, RunSummary } from "../src/run/summary.js";
import { meanSd, round } from "./common.js";
import type { FlagshipModel, MetricStats } from "./flagship-result.js";

/** The figures kept per model: the result file's key ← summary.json's (full-ranking test metrics at k = 10). */
export const KEPT: Readonly<Record<string, string>> = {
  "NDCG@10": "full:NDCG@10",
  "HR@10": "full:HR@10",
  "coverage@10": "full:Coverage@10",
  "gini@10": "full:Gini@10",
  "longTailShare@10": "full:LongTailShare@10",
  "novelty@10": "full:Novelty@10",
  "longTailNDCG@10": "full:LongTailNDCG@10",
  "sampledNDCG@10": "NDCG@10",
};

/** The default pipeline with every seed moved by `seed` (seed 0 is exactly `npm start`'s config). */
export function seededConfig(seed: number, out: string): PipelineConfig {
  const config = defaultPipelineConfig();
  const moved = <T extends object>(spec: T): T =>
    "seed" in spec && typeof spec.seed === "number" ? { ...spec, seed: spec.seed + seed } : spec;
  config.seed += seed;
  for (const teacher of config.teachers) teacher.model = moved(teacher.model);
  config.student.model = moved(config.student.model);
  config.output.dir = out;
  return config;
}

function stats(values: number[]): MetricStats {
  const { mean, sd } = meanSd(values);
  return { mean: round(mean), sd: round(sd), values: values.map((v) => round(v)) };
}

/** One model over the seeds' summaries (`pick` finds it in each); a metric missing from any seed is left out. */
function overSeeds(
  summaries: RunSummary[],
  pick: (s: RunSummary) => ModelSummary | ReferenceSummary | undefined,
  describe: Omit<FlagshipModel, "metrics">,
): FlagshipModel {
  const found = summaries.map(pick);
  const metrics: Record<string, MetricStats> = {};
  for (const [key, source] of Object.entries(KEPT)) {
    const values = found.map((m) => m?.metrics[source]);
    if (values.every((v): v is number => typeof v === "number")) metrics[key] = stats(values);
  }
  return { ...describe, metrics };
}

/** Every model of the seeds' runs (in the first run's order) and the popularity ranker, each over the seeds. */
export function modelsOverSeeds(summaries: RunSummary[]): { models: FlagshipModel[]; reference?: FlagshipModel } {
  const first = summaries[0]!;
  // The compressed student is whichever student ranked best on validation in that seed's run.
  const compressed = (s: RunSummary): ModelSummary | undefined => s.models.find((n) => n.role === "compressed");
  const compressedNames = new Set(summaries.map((s) => compressed(s)?.name));
  const models = first.models.map((m) =>
    overSeeds(summaries, (s) => (m.role === "compressed" ? compressed(s) : s.models.find((n) => n.name === m.name)), {
      name: m.role === "compressed" && compressedNames.size > 1 ? "student-*-compressed" : m.name,
      role: m.role,
      ...(m.method ? { method: m.method } : {}),
      params: m.parameters,
      bytes: m.fileBytes ?? m.bytes,
    }),
  );
  const popularity = first.references?.[0];
  if (!popularity) return { models };
  const reference = overSeeds(summaries, (s) => s.references?.find((r) => r.name === popularity.name), {
    name: popularity.name,
    role: "reference",
    params: 0,
    bytes: 0,
  });
  return { models, reference };
}

/** A model's metric as a bench prints it: "mean ± sd", or "-" when the model lacks it. */
export const shownStats = (m: FlagshipModel, key: string): string =>
  m.metrics[key] ? `${m.metrics[key].mean.toFixed(4)} ± ${m.metrics[key].sd.toFixed(4)}` : "-";
