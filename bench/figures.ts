/**
 * The figures README.md and docs/*.md quote, generated from the committed result files so that they cannot
 * drift from them. Each marked region, `<!-- figures:<name> -->…<!-- /figures -->`, is rewritten by the
 * renderer of that name: the benchmarks' from bench/results/<bench>.json, `npm start`'s from
 * bench/results/flagship.json (FlagshipResult). A region whose text starts on a new line is a block (a code
 * block, a table: its markers on lines of their own); any other sits inside a sentence. The prose around the regions is the documents' own.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Target } from "./common.js";
import type { FlagshipModel, FlagshipResult, MetricStats } from "./flagship-result.js";

/** The file of the flagship results in bench/results/. */
export const FLAGSHIP_FILE = "flagship.json";

/** A bench/results/<bench>.json as bench/common.ts writeResults writes it. */
export interface BenchResult {
  bench: string;
  commit: string;
  date: string;
  results: unknown;
  targets: Target[];
}

/** What the renderers read. */
export interface FigureSources {
  /** bench/results/<bench>.json by file name without ".json". */
  bench: ReadonlyMap<string, BenchResult>;
  /** bench/results/flagship.json, once `npm run bench:flagship` has written it. */
  flagship?: FlagshipResult;
}

/** The text of one region from the sources; undefined when its source is absent (the region is left as it is). */
export type Renderer = (sources: FigureSources) => string | undefined;

/** Every result file in `dir` (bench/results). */
export function readSources(dir: string): FigureSources {
  const json = (file: string): unknown => JSON.parse(readFileSync(join(dir, file), "utf8"));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== FLAGSHIP_FILE);
  const bench = new Map(files.sort().map((f) => [f.slice(0, -".json".length), json(f) as BenchResult]));
  const flagship = existsSync(join(dir, FLAGSHIP_FILE)) ? (json(FLAGSHIP_FILE) as FlagshipResult) : undefined;
  return { bench, ...(flagship ? { flagship } : {}) };
}

const REGION = /<!-- figures:([a-z0-9-]+) -->([\s\S]*?)<!-- \/figures -->/g;

/**
 * `text` with every figures region rewritten by its renderer; `left` names the regions whose source is absent,
 * left as they were. An unknown region name, or a figure its result file lacks, throws.
 */
export function rewriteFigures(
  text: string,
  sources: FigureSources,
  renderers: Readonly<Record<string, Renderer>> = RENDERERS,
): { text: string; left: string[] } {
  const left: string[] = [];
  const rewritten = text.replace(REGION, (region, name: string, current: string) => {
    const render = renderers[name];
    if (!render) throw new Error(`unknown figures region "${name}"`);
    const figures = render(sources);
    if (figures === undefined) {
      left.push(name);
      return region;
    }
    // A block stands apart from its markers by blank lines, as prettier lays out Markdown.
    const body = current.startsWith("\n") ? `\n\n${figures}\n\n` : figures;
    return `<!-- figures:${name} -->${body}<!-- /figures -->`;
  });
  return { text: rewritten, left };
}

// ---- reading result files ---------------------------------------------------------------------------

/** One result file, its figures read by target name or by the keys of `results`; a missing figure throws. */
class ResultFile {
  constructor(
    private readonly file: string,
    private readonly json: BenchResult,
  ) {}

  /** The target named `name`. */
  target(name: string): Target {
    const found = this.json.targets.find((t) => t.name === name);
    if (!found) throw new Error(`${this.file}: no target "${name}"`);
    return found;
  }

  /** The measured figure of the target named `name`. */
  measured(name: string): number {
    return this.target(name).measured;
  }

  /** The value at `keys` in `results`. */
  at(...keys: (string | number)[]): unknown {
    let value: unknown = this.json.results;
    for (const key of keys) {
      value = (value as Record<string | number, unknown> | null | undefined)?.[key];
      if (value === undefined) throw new Error(`${this.file}: no results.${keys.join(".")}`);
    }
    return value;
  }

  /** The number at `keys` in `results`. */
  number(...keys: (string | number)[]): number {
    const value = this.at(...keys);
    if (typeof value !== "number") throw new Error(`${this.file}: results.${keys.join(".")} is not a number`);
    return value;
  }
}

function resultFile(sources: FigureSources, bench: string): ResultFile {
  const json = sources.bench.get(bench);
  if (!json) throw new Error(`bench/results/${bench}.json: missing`);
  return new ResultFile(`bench/results/${bench}.json`, json);
}

// ---- formatting -----------------------------------------------------------------------------------

const fixed = (x: number, digits: number): string => x.toFixed(digits).replace("-", "−");
const times = (x: number, digits = 2): string => `${fixed(x, digits)}×`;
const percent = (fraction: number, digits = 1): string => `${fixed(100 * fraction, digits)}%`;
/** A relative change as "+19.8%" or "−0.3%". */
const change = (ratio: number, digits = 1): string => `${ratio >= 1 ? "+" : ""}${percent(ratio - 1, digits)}`;
const millions = (x: number, digits: number): string => `${fixed(x / 1e6, digits)}M`;
/** Thousands apart with spaces, as the documents write them: "5 884", "198 000". */
const grouped = (x: number): string => String(Math.round(x)).replace(/\B(?=(\d{3})+$)/g, " ");
/** `x` to `digits` significant digits, grouped: 153 969 → "154 000". */
const approx = (x: number, digits = 3): string => grouped(Number(x.toPrecision(digits)));
const kilobytes = (bytes: number): string => `${Math.round(bytes / 1000)} KB`;
const megabytes = (bytes: number, digits: number): string => `${fixed(bytes / 1e6, digits)} MB`;
/** "a–b" when they differ after formatting, else "a". */
function range(values: readonly number[], format: (x: number) => string): string {
  const [low, high] = [format(Math.min(...values)), format(Math.max(...values))];
  return low === high ? low : `${low}–${high}`;
}
/** "met" or "missed", as the documents put a target's outcome. */
const outcome = (target: Target): string => (target.met ? "met" : "missed");

// ---- the flagship: `npm start` ---------------------------------------------------------------------------

const flagshipRenderer =
  (render: (flagship: FlagshipResult) => string): Renderer =>
  ({ flagship }) =>
    flagship && render(flagship);

function ndcg(model: FlagshipModel): MetricStats {
  const stats = model.metrics["NDCG@10"];
  if (!stats) throw new Error(`bench/results/${FLAGSHIP_FILE}: ${model.name} has no NDCG@10`);
  return stats;
}

function byRole(flagship: FlagshipResult, role: FlagshipModel["role"]): FlagshipModel[] {
  return flagship.models.filter((m) => m.role === role);
}

const best = (models: FlagshipModel[]): FlagshipModel | undefined =>
  models.reduce<FlagshipModel | undefined>((a, m) => (a && ndcg(a).mean >= ndcg(m).mean ? a : m), undefined);

/** A distilled model's method in words: "relaxed-ranking" → "relaxed ranking". */
const methodName = (model: FlagshipModel): string => (model.method ?? model.name).replaceAll("-", " ");

/** How long the run takes, its teacher against the student alone, and what each distillation method does. */
function flagshipIntro(flagship: FlagshipResult): string {
  const seconds = flagship.runtimeSeconds.reduce((a, b) => a + b, 0) / flagship.runtimeSeconds.length;
  const duration = seconds < 90 ? `${Math.round(seconds)} seconds` : `${Math.round(seconds / 60)} minutes`;
  const teacher = best(byRole(flagship, "teacher"));
  const [alone] = byRole(flagship, "student");
  const distilled = byRole(flagship, "distilled");
  const top = best(distilled);
  if (!teacher || !alone || !top) {
    throw new Error(`bench/results/${FLAGSHIP_FILE}: needs a teacher, the student alone and a distilled student`);
  }
  const lift = (m: FlagshipModel): number => ndcg(m).mean / ndcg(alone).mean;
  const hurt = distilled.filter((m) => lift(m) < 1).map(methodName);
  const moving = distilled.reduce((a, m) => (ndcg(m).sd > ndcg(a).sd ? m : a));
  const seeds = flagship.seeds.length;
  return (
    `It takes about ${duration} on ${flagship.threads} cores. Over ${seeds} seeds (NDCG@10, mean) the best teacher, ` +
    `${teacher.name}, is ${times(ndcg(teacher).mean / ndcg(alone).mean, 1)} the tiny student trained alone, and ` +
    `${methodName(top)} distillation lifts the student ${times(lift(top), 2)}` +
    (hurt.length ? `; ${hurt.join(" and ")} distillation hurts this student (it is reported, not hidden)` : "") +
    `. Training on ${flagship.threads} threads (Hogwild) makes the students' figures move from run to run, ` +
    `${methodName(moving)}'s most (${range(ndcg(moving).values, (x) => fixed(x, 2))} here).`
  );
}

/** The models of the run and the popularity ranker: size and test metrics, mean ± sd over the seeds. */
function flagshipModels(flagship: FlagshipResult): string {
  const models = [...flagship.models, ...(flagship.reference ? [flagship.reference] : [])];
  const metrics = ["NDCG@10", "coverage@10", "longTailNDCG@10"].filter((k) => models.some((m) => m.metrics[k]));
  const stats = (s: MetricStats | undefined): string => (s ? `${fixed(s.mean, 4)} ± ${fixed(s.sd, 4)}` : "–");
  return markdownTable(
    ["model", "role", "parameters", "weights bytes", ...metrics],
    [false, false, true, true, ...metrics.map(() => true)],
    models.map((m) => [
      m.name,
      m.role,
      grouped(m.params),
      grouped(m.bytes),
      ...metrics.map((k) => stats(m.metrics[k])),
    ]),
  );
}

/** A Markdown table laid out as prettier lays it out (cells padded, right-aligned columns marked). */
export function markdownTable(header: string[], right: boolean[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(" | ")} |`;
  const rule = `| ${widths.map((w, c) => (right[c] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

// ---- the benchmarks ---------------------------------------------------------------------------------

function engine(sources: FigureSources): string {
  const r = resultFile(sources, "engine");
  const rate = (c: string): number => r.number("samplesPerSecond", c);
  const vsTorch = (c: string): number => r.measured(`${c} throughput vs PyTorch`);
  const gflops = Object.values(r.at("matmulGflops") as Record<string, number>);
  return (
    `BPR-MF d200 trains at ${millions(rate("mf200-b1024"), 2)} samples/s (${times(vsTorch("mf200-b1024"), 1)} ` +
    `PyTorch with\n  SparseAdam), d20 at ${millions(rate("mf20-b1024"), 1)}/s (${times(vsTorch("mf20-b1024"), 1)}), ` +
    `NeuMF at ${millions(rate("neumf-b1024"), 2)}/s (${times(vsTorch("neumf-b1024"), 1)}); at batch 32, BPR-MF ` +
    `${range([vsTorch("mf200-b32"), vsTorch("mf20-b32")], (x) => fixed(x, 0))}× PyTorch, NeuMF ` +
    `${times(vsTorch("neumf-b32"), 0)}.\n  Matmul ${range(gflops, (x) => fixed(x, 0))} GFLOPS.`
  );
}

function data(sources: FigureSources): string {
  const r = resultFile(sources, "data");
  return (
    `a ${fixed(r.number("events") / 1e6, 0)}M-row TSV loads at ${millions(r.number("tsvLoadRowsPerSecond"), 2)} ` +
    `rows/s on one core, ${fixed(r.number("peakRssMiB"), 0)} MiB peak RSS\n  with the indexes.`
  );
}

interface CompressionStep {
  step: string;
  status: string;
  bytes: number;
  validNDCG10: number;
  testNDCG10: number;
}

/** A kept compression step as the chain of sizes names it: "int8", "pruned 30% (fine-tuned)", "low-rank". */
function stepName(step: string): string {
  if (step.startsWith("prune")) return `${step.replace("prune", "pruned")} (fine-tuned)`;
  if (step.startsWith("low-rank")) return "low-rank";
  return step.replace(" (start)", "");
}

/** `parts` in two halves (a long chain on two lines), or one when there is one part. */
const halves = (parts: string[]): string[] =>
  [parts.slice(0, Math.ceil(parts.length / 2)), parts.slice(Math.ceil(parts.length / 2))]
    .filter((half) => half.length)
    .map((half) => half.join(" → "));

function compression(sources: FigureSources): string {
  const r = resultFile(sources, "compress");
  const steps = r.at("ml-100k", "studentSteps") as CompressionStep[];
  const kept = steps.filter((s) => s.status !== "rolled back" && s.status !== "skipped");
  const int8 = `(${percent(r.measured("ml-100k: student int8 weights vs fp32"))} of fp32, NDCG@10 ${change(
    1 - r.measured("ml-100k: student int8 relative NDCG@10 loss"),
  )})`;
  const chain = kept.map((s) => `${stepName(s.step)} ${kilobytes(s.bytes)}${s.step === "int8" ? ` ${int8}` : ""}`);
  const final = kept.at(-1)!;
  const start = steps[0]!;
  const budget = r.number("ml-100k", "budget");
  const rolledBack = steps
    .filter((s) => s.status === "rolled back")
    .map(
      (s) =>
        `${s.step.replace("prune", "pruning")} cost ${percent(1 - s.validNDCG10 / start.validNDCG10)} of validation ` +
        `NDCG@10, past the\n  ${percent(budget, 0)} budget, and was rolled back`,
    );
  const artefact = (m: string): number => r.number("ml-100k", "artefactBytes", m);
  return (
    `on ml-100k the distilled\n  16-wide student goes ${halves(chain).join(" →\n  ")}: a weights file ` +
    `**${times(r.measured("ml-100k: final student smaller than teacher (weights.bin)"), 1)} smaller than the ` +
    `teacher's** (${megabytes(r.number("ml-100k", "teacher", "bytes"), 2)}) at\n  ` +
    `**${percent(r.measured("ml-100k: final student NDCG@10 vs teacher"))} of its NDCG@10** ` +
    `(${fixed(final.testNDCG10, 4)} against ${fixed(r.number("ml-100k", "teacher", "test", "NDCG@10"), 4)})` +
    (rolledBack.length ? `; ${rolledBack.join("; ")}` : "") +
    `. On the synthetic shop an 8-wide distilled student ends ` +
    `${times(r.measured("synthetic: final student smaller than teacher (weights.bin)"), 1)} smaller than its\n  ` +
    `teacher at ${percent(r.measured("synthetic: final student NDCG@10 vs teacher"))} of its NDCG@10. Whole ` +
    `artefact directories shrink less (ml-100k: ${megabytes(artefact("teacher"), 1)} → ` +
    `${megabytes(artefact("final"), 2)}), as both\n  carry the users' recent items and side features.`
  );
}

function serving(sources: FigureSources): string {
  const serve = resultFile(sources, "serve");
  const retrieval = resultFile(sources, "serve-retrieval");
  const soak = resultFile(sources, "soak");
  const rss = soak.target("RSS at the end over RSS at 60 s");
  const soakErrors = soak.measured("HTTP errors (errors, timeouts, non-2xx)");
  const httpErrors = serve.measured("HTTP errors (both runs)");
  return (
    `top-10 over 100k int8 item vectors (dim ${retrieval.number("dim")})\n  in ` +
    `${fixed(retrieval.measured("100k int8 top-10 p50"), 2)} ms p50, ` +
    `${times(retrieval.measured("100k int8 top-10 p50 vs PyTorch"), 2)} PyTorch's \`topk(E @ q)\` ` +
    `(PyTorch on OpenBLAS); over 1M items the IVF index answers in\n  ` +
    `${range([serve.measured("1M top-10 p50"), retrieval.measured("1M top-10 p50")], (x) => fixed(x, 2))} ms ` +
    `at recall@10 ${fixed(serve.measured("1M recall@10"), 3)}. Over HTTP, with the load generator on the same ` +
    `two cores, ${grouped(serve.number("http", "measured", "requestsPerSecond"))}\n  requests/s at p99 ` +
    `${serve.number("http", "measured", "latencyMs", "p99")} ms (${serve.number("http", "measured", "connections")} ` +
    `connections, 10% of requests posting events) with ${httpErrors ? `${httpErrors} errors` : "no errors"}; ` +
    `events are ingested\n  durably at ${approx(serve.number("ingest", "eventsPerSecond"))}/s in batches of ` +
    `1 000. Under a ${fixed(soak.number("seconds") / 60, 0)}-minute soak (\`bench/results/soak.json\`) ` +
    `${soakErrors} errors; RSS\n  levels off once the live user state reaches its cap, at ${times(rss.measured)} ` +
    `its value after the first\n  minute (target ${times(rss.target, 1)}: ${outcome(rss)}).`
  );
}

interface ParitySetting {
  dim: number;
  weightDecay: number;
  distillrec: { mean: number; sd: number };
  pytorch: { mean: number; sd: number };
}

function parityBpr(sources: FigureSources): string {
  const r = resultFile(sources, "parity-bpr");
  const settings = r.at("settings") as ParitySetting[];
  const at = (dim: number): ParitySetting => {
    const found = settings.find((s) => s.dim === dim && s.weightDecay === 0.001);
    if (!found) throw new Error(`bench/results/parity-bpr.json: no setting d = ${dim}, decay 1e-3`);
    return found;
  };
  const d200 = r.target("BPR-MF d=200, decay 0.001: distillrec mean NDCG@10 / PyTorch's (3 seeds)");
  const d20 = r.target("BPR-MF d=20, decay 0.001: distillrec mean NDCG@10 / PyTorch's (3 seeds)");
  const side = (s: { mean: number; sd: number }): string => `${fixed(s.mean, 4)} ± ${fixed(s.sd, 4)}`;
  return (
    `at the paper's 1e-3\n  d = 200 reaches ${times(d200.measured, 3)} the PyTorch peer's mean NDCG@10 ` +
    `(${side(at(200).distillrec)} against ${side(at(200).pytorch)}) and d = 20\n  ${times(d20.measured)} ` +
    `(target ${times(d20.target)}); ` +
    `${range(
      settings.map((s) => s.distillrec.mean / s.pytorch.mean),
      (x) => fixed(x, 2),
    )}× at every decay.`
  );
}

interface StreamResult {
  trainEvents: number;
  streamEvents: number;
  eventsPerSecond: number;
}

function online(sources: FigureSources): string {
  const r = resultFile(sources, "online");
  const ndcgOf = (stream: string, run: string): number => r.number(stream, run, "overall", "NDCG@10");
  const shop = r.at("synthetic-drift") as StreamResult;
  const ml = r.at("ml-100k") as StreamResult;
  const trained = (s: StreamResult): string => percent(s.trainEvents / (s.trainEvents + s.streamEvents), 0);
  const [still, learning, redistilled] = ["static", "online", "redistilled"].map((run) =>
    ndcgOf("synthetic-drift", run),
  ) as [number, number, number];
  const gate = r.target("(c) vs (a) prequential NDCG@10, drifting synthetic stream");
  const p99 = r.target("request p99 while learning vs idle");
  const learnerRate = r.number("latency", "learning", "eventsPosted") / r.number("latency", "seconds");
  const latency = (run: string): string => fixed(r.number("latency", run, "latencyMs", "p99"), 2);
  return (
    `a teacher and a distilled student trained on the first ${trained(shop)} of\n  a synthetic shop whose users' ` +
    `tastes drift, then ${grouped(shop.streamEvents)} events streamed, each ranked before it is learned. The\n  ` +
    `student as trained scores prequential NDCG@10 ${fixed(still, 3)}; learning online ${fixed(learning, 3)} ` +
    `(${change(learning / still)}); learning online with\n  re-distillation through the promotion gate ` +
    `${fixed(redistilled, 3)} (${change(redistilled / still)}; target ≥ +${fixed(gate.target, 0)}%). On ml-100k ` +
    `(trained on the first ${trained(ml)}\n  of the timeline) ` +
    `${["static", "online", "redistilled"].map((run) => fixed(ndcgOf("ml-100k", run), 3)).join(" → ")}. ` +
    `The student learns ${approx(shop.eventsPerSecond)} events/s. A server whose worker thread learns\n  ` +
    `from ${approx(learnerRate, 2)} events/s answers recommendations at p99 ${latency("learning")} ms against ` +
    `${latency("idle")} ms with learning off (${times(p99.measured)}; target ≤ ${times(p99.target, 0)}`
  );
}

function onlineLoad(sources: FigureSources): string {
  const r = resultFile(sources, "online");
  const errors = r.number("latency", "learning", "errors") + r.number("latency", "idle", "errors");
  const rate = (run: string): string => approx(r.number("latency", run, "requestsPerSecond"));
  return `with ${errors ? `${errors} errors` : "no errors"}, at ${rate("learning")} rather than ${rate("idle")} requests/s`;
}

/** The documents whose figures regions are rewritten: README.md and docs/*.md, relative to the repository root. */
export function figureDocuments(root: string): string[] {
  const docs = readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md"));
  return ["README.md", ...docs.sort().map((f) => join("docs", f))];
}

/** Every region the documents may hold, by name. */
export const RENDERERS: Readonly<Record<string, Renderer>> = {
  "flagship-intro": flagshipRenderer(flagshipIntro),
  "flagship-cores": flagshipRenderer((f) => `${f.threads} cores`),
  "flagship-output": flagshipRenderer((f) => `\`\`\`text\n${f.sampleOutput.trimEnd()}\n\`\`\``),
  "flagship-models": flagshipRenderer(flagshipModels),
  "flagship-screenshot": flagshipRenderer(
    (f) => `\`node dist/bench/dashboard-screenshot.js runs/default/models/${f.shipped.name} docs/dashboard.png\``,
  ),
  engine,
  data,
  compression,
  serving,
  "parity-bpr": parityBpr,
  online,
  "online-load": onlineLoad,
};
