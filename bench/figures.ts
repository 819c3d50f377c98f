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

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
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
/**
 * `text` broken at spaces into lines of at most `width` characters, the first of at most `first` (it follows
 * the prose before the region), continued with `indent` (a bullet's by default): for a sentence whose length
 * depends on the figures (prettier keeps Markdown lines as they are).
 */
function wrap(text: string, first: number, indent = "  ", width = 112): string {
  const lines = [""];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    if (lines[last] && `${indent}${lines[last]} ${word}`.length > (last ? width : first)) lines.push(word);
    else lines[last] = lines[last] ? `${lines[last]} ${word}` : word;
  }
  return lines.join(`\n${indent}`);
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

/**
 * How long `npm start` takes on two threads, its teacher against the student alone, what each distillation
 * method does, how much of the catalogue the shipped student recommends, and how far two threads move it.
 */
function flagshipIntro(flagship: FlagshipResult): string {
  const runs = flagship.twoThreadRuns;
  const seconds = mean(runs.length ? runs.map((r) => r.seconds) : flagship.runtimeSeconds);
  const duration = seconds < 90 ? `${Math.round(seconds)} seconds` : `${fixed(seconds / 60, 1)} minutes`;
  const teacher = best(byRole(flagship, "teacher"));
  const [alone] = byRole(flagship, "student");
  const distilled = byRole(flagship, "distilled");
  const top = best(distilled);
  const shipped = byRole(flagship, "compressed")[0];
  if (!teacher || !alone || !top || !shipped) {
    throw new Error(
      `bench/results/${FLAGSHIP_FILE}: needs a teacher, the student alone, a distilled and a shipped student`,
    );
  }
  // A method's lift over the student alone, seed by seed; it counts as a lift (or a loss) only beyond the seeds' spread.
  const lifts = (m: FlagshipModel): number[] => ndcg(m).values.map((v, i) => v / ndcg(alone).values[i]!);
  const spread = (values: number[]): { mean: number; sd: number } => {
    const m = mean(values);
    const sd = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1)) : 0;
    return { mean: m, sd };
  };
  const clear = distilled.filter((m) => Math.abs(spread(lifts(m)).mean - 1) > spread(lifts(m)).sd);
  const within = distilled.filter((m) => !clear.includes(m));
  const effect = (m: FlagshipModel): string =>
    `${methodName(m)} ${spread(lifts(m)).mean >= 1 ? "lifts" : "lowers"} it ${times(spread(lifts(m)).mean, 2)}`;
  const metric = (m: FlagshipModel, key: string): number => m.metrics[key]?.mean ?? NaN;
  const coverage = (m: FlagshipModel): string => percent(metric(m, "coverage@10"), 0);
  const tail = (m: FlagshipModel): string =>
    times(metric(m, "longTailNDCG@10") / metric(teacher, "longTailNDCG@10"), 2);
  const seeds = flagship.seeds.length;
  const list = (items: string[]): string =>
    items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)}` : (items[0] ?? "");
  return wrap(
    `It takes about ${duration} on two cores. Over ${seeds} seeds at one thread (full-ranking NDCG@10, mean) ` +
      `the best teacher, ${teacher.name}, is ${times(ndcg(teacher).mean / ndcg(alone).mean, 2)} the tiny student ` +
      `trained alone. ` +
      (clear.length ? `On accuracy, ${list(clear.map(effect))}` : "") +
      (clear.length && within.length ? "; " : "") +
      (within.length
        ? `${clear.length ? "" : "On accuracy, "}${list(within.map(methodName))} distillation ` +
          `${within.length > 1 ? "leave" : "leaves"} it within ` +
          `the seeds' spread (${within.map((m) => times(spread(lifts(m)).mean, 2)).join(", ")})`
        : "") +
      `. The shipped student (the best on validation, compressed) recommends ${coverage(shipped)} of the ` +
      `catalogue to the test users (the teacher ${coverage(teacher)}, the student alone ${coverage(alone)}), and ` +
      `its long-tail NDCG@10 is ${tail(shipped)} the teacher's (the student alone's ${tail(alone)}).` +
      (runs.length
        ? ` In ${runs.length} runs on two threads every model stays within ` +
          `${percent(Math.max(...runs.map((r) => r.largestGap)), 1)} of its one-thread NDCG@10.`
        : ""),
    80,
    "",
  );
}

/** The student's parameters as a share of the best teacher's. */
function flagshipStudentShare(flagship: FlagshipResult): string {
  const teacher = best(byRole(flagship, "teacher"));
  const [alone] = byRole(flagship, "student");
  if (!teacher || !alone) throw new Error(`bench/results/${FLAGSHIP_FILE}: needs a teacher and the student alone`);
  return `${percent(alone.params / teacher.params, 0)} of the teacher's parameters`;
}

/** The best distillation method's effect on `npm start`'s student, for the sentence that compares the benches. */
function flagshipLift(flagship: FlagshipResult): string {
  const [alone] = byRole(flagship, "student");
  const top = best(byRole(flagship, "distilled"));
  if (!alone || !top) throw new Error(`bench/results/${FLAGSHIP_FILE}: needs the student alone and a distilled one`);
  return `the best distillation method moves the 8-wide student's NDCG@10 ${times(ndcg(top).mean / ndcg(alone).mean)}`;
}

/** The models of the run and the popularity ranker: size and test metrics, mean ± sd over the seeds. */
function flagshipModels(flagship: FlagshipResult): string {
  const models = [...flagship.models, ...(flagship.reference ? [flagship.reference] : [])];
  const metrics = ["NDCG@10", "coverage@10", "longTailNDCG@10"].filter((k) => models.some((m) => m.metrics[k]));
  const stats = (s: MetricStats | undefined): string => (s ? `${fixed(s.mean, 4)} ± ${fixed(s.sd, 4)}` : "–");
  return markdownTable(
    ["model", "role", "parameters", "weights bytes", ...metrics.map((k) => k.replace("longTail", "long-tail "))],
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

interface DistillModel {
  name: string;
  role: string;
  metrics: Record<string, number>;
}

/** The best teacher of bench:distill on ml-100k. */
function distillTeacher(sources: FigureSources): DistillModel {
  const models = resultFile(sources, "distill").at("ml-100k", "models") as DistillModel[];
  const teachers = models.filter((m) => m.role === "teacher");
  return teachers.reduce((a, m) => ((m.metrics["NDCG@10"] ?? 0) > (a.metrics["NDCG@10"] ?? 0) ? m : a));
}

function distillStudent(sources: FigureSources): string {
  const r = resultFile(sources, "distill");
  const models = r.at("ml-100k", "models") as DistillModel[];
  const ndcgOf = (name: string): number => {
    const found = models.find((m) => m.name === name)?.metrics["NDCG@10"];
    if (found === undefined) throw new Error(`bench/results/distill.json: no ml-100k model ${name} with NDCG@10`);
    return found;
  };
  const student = "student-listwise-t1";
  const parameters = r.measured(`ml-100k ${student} parameters / teacher (${distillTeacher(sources).name})`);
  return (
    `${percent(parameters)} of its parameters reaches\n  ${fixed(ndcgOf(student), 3)} with listwise distillation ` +
    `(${percent(r.measured(`ml-100k ${student} NDCG@10 / teacher NDCG@10`), 0)} of the teacher, ` +
    `${change(r.measured(`ml-100k ${student} NDCG@10 / undistilled student NDCG@10`))} over the same student ` +
    `alone, ${fixed(ndcgOf("student-none"), 3)})`
  );
}

type MeanSd = { mean: number; sd: number };
const meanSd = (s: MeanSd, digits: number): string => `${fixed(s.mean, digits)} ± ${fixed(s.sd, digits)}`;

function sequential(sources: FigureSources): string {
  const r = resultFile(sources, "sequential");
  const stats = (model: string, metric = "NDCG@10"): MeanSd =>
    r.at("ml-100k", "meanSd", `${model} ${metric}`) as MeanSd;
  const peer = r.target("ml-100k: sasrec NDCG@10 / the PyTorch peer's");
  const pairwise = distillTeacher(sources).metrics["NDCG@10"]!;
  return (
    `SASRec reaches NDCG@10 ${meanSd(stats("sasrec"), 3)} (full ranking ` +
    `${fixed(stats("sasrec", "full:NDCG@10").mean, 3)}), ` +
    `${times(r.measured(`ml-100k: sasrec teacher NDCG@10 / ${fixed(pairwise, 3)} (bench:distill's two-tower-128)`))} ` +
    `the best pairwise\n  teacher of bench:distill (${fixed(pairwise, 3)}) and ` +
    `${times(r.measured("ml-100k: sasrec teacher NDCG@10 / two-tower-128's"))} the same two-tower-128 trained in ` +
    `the run, and ${times(peer.measured)} the PyTorch\n  SASRec peer at equal settings ` +
    `(${meanSd(stats("peer"), 3)}: ${outcome(peer)}`
  );
}

function sequentialThroughput(sources: FigureSources): string {
  const r = resultFile(sources, "sequential-throughput");
  const rate = (threads: number): string => `${fixed(r.number("throughput", threads, "ours") / 1000, 1)}k`;
  const one = r.target("throughput vs the PyTorch peer, 1 thread(s)");
  const two = r.target("throughput vs the PyTorch peer, 2 thread(s)");
  return (
    `${rate(1)} positions/s on one thread, ${times(one.measured)} PyTorch` +
    `${one.met ? "" : " (missed)"}, ${rate(2)} on two,\n  ${times(two.measured)}${two.met ? "" : " (missed)"}`
  );
}

function sequentialShop(sources: FigureSources): string {
  const shop = resultFile(sources, "sequential-shop");
  const ml = resultFile(sources, "sequential");
  const hint = (r: ResultFile, prefix: string): string =>
    change(r.measured(`${prefix}: tiny sasrec distilled (student-hint) / alone, NDCG@10`), 0);
  return (
    `On the shop SASRec is ${times(shop.measured("shop: sasrec teacher NDCG@10 / two-tower-128's"))} the ` +
    `two-tower-128. The tiny SASRec student is a strong model on its own:\n  16 wide it matches the teacher ` +
    `(hint distillation ${hint(ml, "ml-100k")} on ml-100k, ${hint(shop, "shop")} on the shop)`
  );
}

function interop(sources: FigureSources): string {
  const r = resultFile(sources, "interop");
  const teacher = (side: string): string => meanSd(r.at("teachers", side, "NDCG@10") as MeanSd, 4);
  const apart = (method: string): number => r.number("students", method, "relativeDifference", "NDCG@10");
  const listwise = r.target(
    "student distilled from the PyTorch teacher (ONNX) vs from the natively trained teacher: relative difference " +
      "of the mean NDCG@10 over seeds 0,1,2 (listwise)",
  );
  return (
    `(NDCG@10 ${teacher("torch")}, native ${teacher("native")}) distils a ranking student ` +
    `${percent(apart("ranking"))} from the\n  native teacher's and a listwise one ${percent(apart("listwise"))} ` +
    `(target ${percent(listwise.target, 0)}: ${outcome(listwise)} for listwise`
  );
}

function interopBrowser(sources: FigureSources): string {
  const r = resultFile(sources, "interop");
  return (
    `the bundle is ${fixed(r.number("browser", "bundleGzipBytes") / 1024, 1)} KiB gzipped, top-10 over ml-100k's ` +
    `catalogue ${fixed(r.number("browser", "p50Ms") * 1000, 0)} µs at the median`
  );
}

interface ParityMethod {
  method: string;
  ndcg: { ours: number[] };
  gain: { ours: MeanSd; torch: MeanSd };
}

/** How the parity bench's methods are named in prose. */
const PARITY_METHOD_NAMES: Readonly<Record<string, string>> = {
  listwise: "listwise KD",
  "relaxed-ranking": "relaxed ranking",
  "topology-full": "topology",
  ranking: "ranking",
  experts: "DE",
};

function paritySasrec(sources: FigureSources): string {
  const r = resultFile(sources, "parity-sasrec");
  const methods = [...(r.at("methods", "methods") as ParityMethod[])].sort(
    (a, b) => b.gain.ours.mean - a.gain.ours.mean,
  );
  const named = (m: ParityMethod): string => PARITY_METHOD_NAMES[m.method] ?? m.method;
  const gain = (g: MeanSd): string => change(1 + g.mean);
  const helping = methods.filter((m) => m.gain.ours.mean >= 0);
  const lowering = methods.filter((m) => m.gain.ours.mean < 0);
  const top = methods[0]!;
  const best = r.target(`ml-100k best method (${top.method}) NDCG@10 / teacher`);
  const student = r.at("methods", "student", "ndcg", "ours") as number[];
  // The teacher as the lists see it: what it scored reading the same training history as the students.
  const fromHistory = r.number("methods", "teacher", "metricsFromTrainingHistory", "NDCG@10");
  return wrap(
    `From the SASRec teacher (NDCG@10 ${fixed(r.number("methods", "teacher", "metrics", "NDCG@10"), 3)}) the ` +
      `BPR-MF d = ${r.number("methods", "settings", "studentDim")} student alone (${fixed(mean(student), 3)}) gains ` +
      helping
        .map((m, i) => `${gain(m.gain.ours)} with ${named(m)} (${i === 0 ? "PyTorch " : ""}${gain(m.gain.torch)})`)
        .join(", ") +
      (lowering.length
        ? `; ${lowering.map(named).join(" and ")} lowers it on both sides ` +
          `(${lowering.map((m) => `${percent(m.gain.ours.mean)}, ${percent(m.gain.torch.mean)}`).join("; ")})`
        : "") +
      `. The best student is ${times(best.measured)} the teacher (target ${fixed(best.target, 2)}: ${outcome(best)}; ` +
      `${times(mean(top.ndcg.ours) / fromHistory)} the teacher reading the same training history as its lists)`,
    40,
  );
}

/** Mean and sample standard deviation (n − 1), as the benches compute them. */
function stats(xs: readonly number[]): MeanSd {
  const m = mean(xs);
  return { mean: m, sd: Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1)) };
}

/** A parity bench's methods beside the student alone, both sides, mean ± sd over the seeds. */
function parityTable(bench: "parity" | "parity-sasrec", withSeconds: boolean): Renderer {
  return (sources) => {
    const r = resultFile(sources, bench);
    type Side = { ours: number[]; torch: number[]; seconds: { ours: number; torch: number } };
    const student = r.at("methods", "student", "ndcg") as Side;
    const methods = r.at("methods", "methods") as (ParityMethod & { ndcg: Side })[];
    const gain = (g: MeanSd): string => `${change(1 + g.mean)} ± ${fixed(100 * g.sd, 1)}`;
    const seconds = (side: Side): string[] =>
      withSeconds ? [fixed(side.seconds.ours, 0), fixed(side.seconds.torch, 0)] : [];
    const rows = [
      ["none", meanSd(stats(student.ours), 4), "—", meanSd(stats(student.torch), 4), "—", ...seconds(student)],
      ...methods.map((m) => [
        m.method === "experts" ? "experts (DE)" : m.method,
        meanSd(stats(m.ndcg.ours), 4),
        gain(m.gain.ours),
        meanSd(stats(m.ndcg.torch), 4),
        gain(m.gain.torch),
        ...seconds(m.ndcg),
      ]),
    ];
    const header = ["method", "distillrec NDCG@10", "gain", "PyTorch NDCG@10", "gain"];
    const columns = withSeconds ? [...header, "s ours", "s PyTorch"] : header;
    return markdownTable(
      columns,
      columns.map(() => false),
      rows,
    );
  };
}

/** bench:parity-bpr: distillrec's mean NDCG@10 over PyTorch's, a row per width, a column per weight decay. */
function parityBprTable(sources: FigureSources): string {
  const settings = resultFile(sources, "parity-bpr").at("settings") as ParitySetting[];
  const decays = [...new Set(settings.map((s) => s.weightDecay))].sort((a, b) => a - b);
  const dims = [...new Set(settings.map((s) => s.dim))].sort((a, b) => b - a);
  const decayName = (decay: number): string =>
    decay === 0 ? "decay 0" : `${decay.toExponential()}${decay === 0.001 ? " (the paper's)" : ""}`;
  const ratio = (dim: number, decay: number): string => {
    const s = settings.find((x) => x.dim === dim && x.weightDecay === decay);
    return s ? fixed(s.distillrec.mean / s.pytorch.mean, 3) : "–";
  };
  return markdownTable(
    ["d", ...decays.map(decayName)],
    decays.map(() => false).concat(false),
    dims.map((dim) => [String(dim), ...decays.map((decay) => ratio(dim, decay))]),
  );
}

// ---- bench:methods: every distillation method on the default pipeline ------------------------------------

/** The metrics of bench:methods' table: the result file's key and the column's header. */
const METHODS_COLUMNS: [string, string][] = [
  ["NDCG@10", "NDCG@10"],
  ["sampledNDCG@10", "sampled NDCG@10"],
  ["longTailNDCG@10", "long-tail NDCG@10"],
  ["coverage@10", "coverage@10"],
  ["longTailShare@10", "long-tail share@10"],
];

/** bench:methods' models: the students in the bench's order, then the teacher and the popularity ranker. */
function methodsModels(sources: FigureSources): FlagshipModel[] {
  const r = resultFile(sources, "methods");
  const models = r.at("models") as FlagshipModel[];
  const teachers = models.filter((m) => m.role === "teacher");
  return [...models.filter((m) => m.role !== "teacher"), ...teachers, r.at("reference") as FlagshipModel];
}

/** The mean of `metric` over the seeds for the student distilled by `method` ("none": the student alone). */
function methodsMean(sources: FigureSources, method: string, metric: string): number {
  const found = methodsModels(sources).find((m) => m.method === method)?.metrics[metric];
  if (!found) throw new Error(`bench/results/methods.json: no student "${method}" with ${metric}`);
  return found.mean;
}

/** A model of bench:methods as the documents name it. */
function methodsRowName(model: FlagshipModel): string {
  if (model.role === "teacher") return `the teacher (${model.name})`;
  if (model.role === "reference") return `the ${model.name} ranker`;
  if (model.role === "student") return "the student alone";
  return model.method === "unkd" ? "UnKD" : methodName(model);
}

/** Every model of bench:methods, each metric mean ± sd over the seeds. */
function methodsTable(sources: FigureSources): string {
  return markdownTable(
    ["model", ...METHODS_COLUMNS.map(([, header]) => header)],
    [false, ...METHODS_COLUMNS.map(() => true)],
    methodsModels(sources).map((m) => [
      methodsRowName(m),
      ...METHODS_COLUMNS.map(([key]) => (m.metrics[key] ? meanSd(m.metrics[key], 4) : "–")),
    ]),
  );
}

/** The seeds of bench:methods ("0, 1 and 2") and the student's learning rate they ran at. */
function methodsSetting(sources: FigureSources): string {
  const r = resultFile(sources, "methods");
  const seeds = (r.at("seeds") as number[]).map(String);
  const listed = seeds.length > 1 ? `${seeds.slice(0, -1).join(", ")} and ${seeds.at(-1)!}` : seeds.join("");
  return `${listed}, the student's learning rate ${r.number("student", "lr")}`;
}

/** Ranking distillation (the preset) against the student alone and listwise: NDCG@10 and what its lists hold. */
function methodsRanking(sources: FigureSources): string {
  const of = (method: string, metric: string): number => methodsMean(sources, method, metric);
  const share = (method: string, metric: string): string => percent(of(method, metric));
  const others = (metric: string): string =>
    `the student alone's ${share("none", metric)}, listwise's ${share("listwise", metric)}`;
  return wrap(
    `ranking distillation (the preset) reaches ${times(of("ranking", "NDCG@10") / of("none", "NDCG@10"))} the ` +
      `student alone's NDCG@10 and ${times(of("ranking", "NDCG@10") / of("listwise", "NDCG@10"))} listwise's; ` +
      `its top 10 lists cover ${share("ranking", "coverage@10")} of the catalogue (${others("coverage@10")}), ` +
      `and ${share("ranking", "longTailShare@10")} of their items are long-tail ones (${others("longTailShare@10")})`,
    60,
    "",
  );
}

/** UnKD against listwise, the default pipeline's method, with the targets' outcomes. */
function methodsUnkd(sources: FigureSources): string {
  const r = resultFile(sources, "methods");
  const [ndcg, longTail, share] = ["NDCG@10", "long-tail NDCG@10", "long-tail share@10"].map((figure) =>
    r.target(`unkd ${figure} / listwise's`),
  ) as [Target, Target, Target];
  return wrap(
    `UnKD's NDCG@10 is ${times(ndcg.measured)} listwise's, its long-tail NDCG@10 ${times(longTail.measured)} and ` +
      `its long-tail share of the top 10 ${times(share.measured)} (targets ≥ ${times(ndcg.target, 0)}: ` +
      `${[ndcg, longTail, share].map(outcome).join(", ")})`,
    60,
    "",
  );
}

function scale(sources: FigureSources): string {
  const r = resultFile(sources, "scale");
  const run = (n: string): string =>
    `${grouped(r.number(n, "requestsPerSecond"))} req/s (p99 ${r.number(n, "latencyMs", "p99")} ms`;
  const errors = r.number("one", "errors") + r.number("two", "errors");
  const stale = r.number("freshness", "stale");
  return (
    `one server ${run("one")}), two ${run("two")}, ${times(r.number("speedup"))}), ${errors} errors;\n` +
    `freshness p99 ${fixed(r.number("freshness", "p99"), 0)} ms with ${stale ? stale : "no"} stale answer in ` +
    `${r.number("freshness", "probes")}; ${approx(r.number("ingest", "eventsPerSecond"), 2)} events/s ingested (every ` +
    `server applies every\nevent, so ingest does not grow with servers); ${r.number("ingest", "lost")} acknowledged ` +
    `events lost`
  );
}

/** The documents whose figures regions are rewritten: README.md and docs/*.md, relative to the repository root. */
export function figureDocuments(root: string): string[] {
  const docs = readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md"));
  return ["README.md", ...docs.sort().map((f) => join("docs", f))];
}

/** Every region the documents may hold, by name. */
export const RENDERERS: Readonly<Record<string, Renderer>> = {
  "flagship-intro": flagshipRenderer(flagshipIntro),
  "flagship-student-share": flagshipRenderer(flagshipStudentShare),
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
  "distill-teacher": (sources) => fixed(distillTeacher(sources).metrics["NDCG@10"]!, 3),
  "distill-student": distillStudent,
  sequential,
  "sequential-throughput": sequentialThroughput,
  "sequential-shop": sequentialShop,
  "flagship-lift": flagshipRenderer(flagshipLift),
  interop,
  "interop-browser": interopBrowser,
  "parity-sasrec": paritySasrec,
  "parity-sasrec-table": parityTable("parity-sasrec", true),
  "parity-table": parityTable("parity", false),
  "parity-bpr-table": parityBprTable,
  "methods-shop": methodsTable,
  "methods-shop-setting": methodsSetting,
  "methods-shop-ranking": methodsRanking,
  "methods-shop-unkd": methodsUnkd,
  scale,
};
