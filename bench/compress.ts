// bench:compress — from the teacher to the final student: the distilled student of bench:distill's
// setting, compressed step by step (fp16 → int8 → pruned 30% → pruned 50% → low-rank), each pruning and
// low-rank step fine-tuned by distillation from the teacher and kept only within a 2% validation budget;
// the teacher compressed alongside (fp16 → int8 → low-rank, without fine-tuning). Size (weights.bin bytes), test NDCG@10 and top-10 latency per step, on
// MovieLens 100K and the synthetic shop; the targets.
import { existsSync, readdirSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { compressArtefact, type CompressArtefactResult } from "../src/run/compress-artefact.js";
import { parseSteps, type StepReport } from "../src/run/compression.js";
import { loadPipelineConfig, type PipelineConfig } from "../src/run/config.js";
import { runPipeline } from "../src/run/pipeline.js";
import { readManifest } from "../src/models/artefact.js";
import { atLeast, atMost, printTable, repoRoot, round, writeResults, type Target, printTargets } from "./common.js";

const ML100K = join(repoRoot, "..", "shared", "data", "ml-100k");
const STEPS = "fp16,int8,prune:0.3,prune:0.5,lowrank:0.9";
const TEACHER_STEPS = "fp16,int8,lowrank:0.98";
const FINE_TUNE_EPOCHS = 4;
const BUDGET = 0.02;

interface Setting {
  name: string;
  teacher: string;
  method: string;
  /** Student width, when it differs from bench:distill's. */
  studentDim?: number;
}

const SETTINGS: Setting[] = [
  { name: "ml-100k", teacher: "two-tower-128", method: "listwise-t1" },
  // bench:distill's 4-wide student is already 6% below the teacher here; an 8-wide one matches it.
  { name: "synthetic", teacher: "two-tower-64", method: "listwise", studentDim: 8 },
];

/** bench:distill's config cut down to one teacher and one method, with the student's width overridden. */
function config(setting: Setting): PipelineConfig {
  const cfg = loadPipelineConfig(join(repoRoot, "bench", "configs", `${setting.name}.yaml`));
  if (cfg.data.kind !== "synthetic" && !isAbsolute(cfg.data.path)) cfg.data.path = join(repoRoot, cfg.data.path);
  cfg.teachers = cfg.teachers.filter((t) => t.name === setting.teacher);
  cfg.distillation.methods = cfg.distillation.methods.filter((m) => m.name === setting.method);
  if (setting.studentDim)
    cfg.student.model = { ...cfg.student.model, dim: setting.studentDim } as typeof cfg.student.model;
  cfg.output.dir = join(repoRoot, "runs", `bench-compress-${setting.name}`);
  return cfg;
}

/** The run directory holding this teacher and student: bench:distill's when its student has the same spec, else ours (trained if missing). */
async function models(
  setting: Setting,
  cfg: PipelineConfig,
): Promise<{ dir: string; teacher: string; student: string }> {
  const student = `student-${setting.method}`;
  for (const dir of [join(repoRoot, "runs", `bench-${setting.name}`), cfg.output.dir]) {
    const teacherDir = join(dir, "models", setting.teacher);
    const studentDir = join(dir, "models", student);
    if (!existsSync(join(studentDir, "manifest.json")) || !existsSync(join(teacherDir, "manifest.json"))) continue;
    if (JSON.stringify(readManifest(studentDir).spec) === JSON.stringify(cfg.student.model)) {
      return { dir, teacher: teacherDir, student: studentDir };
    }
  }
  console.log(`${setting.name}: training ${setting.teacher} and ${student} (one thread)…`);
  await runPipeline(cfg);
  return {
    dir: cfg.output.dir,
    teacher: join(cfg.output.dir, "models", setting.teacher),
    student: join(cfg.output.dir, "models", student),
  };
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

function ndcg(r: { test: Record<string, number> }): number {
  return r.test["NDCG@10"] ?? NaN;
}

async function bench(setting: Setting) {
  const cfg = config(setting);
  const { dir, teacher, student } = await models(setting, cfg);
  const common = {
    teacher,
    threads: 1,
    seed: cfg.seed,
    budget: BUDGET,
    softLabels: {
      ...cfg.distillation.softLabels,
      cachePath: join(dir, "soft-labels", `${setting.teacher}.soft`),
    },
    evaluation: { ...cfg.evaluation, fullRanking: false },
  };
  const started = performance.now();
  const studentRun = await compressArtefact({
    ...common,
    model: student,
    steps: parseSteps(STEPS, FINE_TUNE_EPOCHS),
    out: join(cfg.output.dir, "models", `${setting.method}-compressed`),
  });
  // The teacher itself after training (no fine-tuning; every step kept for the record): its wide tables are
  // where low-rank factors pay.
  const teacherRun = await compressArtefact({
    ...common,
    model: teacher,
    steps: parseSteps(TEACHER_STEPS),
    budget: 1,
    out: join(cfg.output.dir, "models", `${setting.teacher}-int8`),
  });
  const seconds = (performance.now() - started) / 1000;
  return { setting, studentRun, teacherRun, seconds, student, teacherDir: teacher };
}

type Result = Awaited<ReturnType<typeof bench>>;

function rows(r: Result): (string | number)[][] {
  const teacher = r.studentRun.teacher!;
  const line = (who: string, s: StepReport) => [
    `${who} ${s.step}`,
    s.status,
    s.bytes,
    round(teacher.bytes / s.bytes, 3),
    round(ndcg(s)),
    round(ndcg(s) / ndcg(teacher), 3),
    round(s.latencyMs, 3),
  ];
  return [...r.teacherRun.steps.map((s) => line("teacher", s)), ...r.studentRun.steps.map((s) => line("student", s))];
}

function targets(r: Result): Target[] {
  const name = r.setting.name;
  const steps = r.studentRun.steps;
  const start = steps[0]!;
  const int8 = steps.find((s) => s.step === "int8")!;
  const { final } = r.studentRun;
  const teacher = r.studentRun.teacher!;
  return [
    atMost(`${name}: student int8 weights vs fp32`, round(int8.bytes / start.bytes, 4), 0.27, "fraction of bytes"),
    atMost(
      `${name}: student int8 relative NDCG@10 loss`,
      round(Math.max(0, 1 - ndcg(int8) / ndcg(start)), 4),
      0.01,
      "fraction",
    ),
    atLeast(
      `${name}: final student smaller than teacher (weights.bin)`,
      round(teacher.bytes / final.bytes, 3),
      40,
      "×",
    ),
    atLeast(`${name}: final student NDCG@10 vs teacher`, round(ndcg(final) / ndcg(teacher), 4), 0.95, "fraction"),
  ];
}

function summary(r: Result) {
  const slim = (s: StepReport) => ({
    step: s.step,
    status: s.status,
    bytes: s.bytes,
    validNDCG10: round(s.validation),
    testNDCG10: round(ndcg(s)),
    testHR10: round(s.test["HR@10"] ?? NaN),
    latencyMs: round(s.latencyMs, 4),
    note: s.note,
  });
  const final = (run: CompressArtefactResult) => run.out;
  return {
    teacher: { ...r.studentRun.teacher!, test: { "NDCG@10": round(ndcg(r.studentRun.teacher!)) }, dir: r.teacherDir },
    student: r.student,
    studentSchedule: STEPS,
    teacherSchedule: TEACHER_STEPS,
    fineTuneEpochs: FINE_TUNE_EPOCHS,
    budget: BUDGET,
    studentSteps: r.studentRun.steps.map(slim),
    teacherSteps: r.teacherRun.steps.map(slim),
    finalArtefact: final(r.studentRun),
    // Whole artefact directories: context.bin (training histories and features) is data both models carry.
    artefactBytes: {
      teacher: dirBytes(r.teacherDir),
      student: dirBytes(r.student),
      final: dirBytes(final(r.studentRun)),
    },
    fidelity: r.studentRun.metrics["fidelity:overlap@10"],
    seconds: Math.round(r.seconds),
  };
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  const allTargets: Target[] = [];
  for (const setting of SETTINGS) {
    if (setting.name === "ml-100k" && !existsSync(ML100K)) {
      console.log(`ml-100k: ${ML100K} not found, skipped`);
      continue;
    }
    const r = await bench(setting);
    console.log(`\n${setting.name}: teacher ${r.studentRun.teacher!.id}, student ${r.student}`);
    printTable(["model / step", "status", "weights bytes", "× smaller", "NDCG@10", "vs teacher", "p50 ms"], rows(r));
    const t = targets(r);
    allTargets.push(...t);
    results[setting.name] = { ...summary(r), targets: t };
  }
  console.log("\ntargets");
  printTargets(allTargets);
  console.log(`written to ${writeResults("compress", results, allTargets)}`);
}

await main();
