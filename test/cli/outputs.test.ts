// What the commands' outputs may replace: a model artefact (with --force) or an empty directory for the
// artefact commands, a run's own directory for `run`; never an input, a file or a directory of other files.
// Each refusal comes before any work, names the path, and leaves what was there as it was.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError, type CommandDeps } from "../../src/cli/commands/common.js";
import { compressCommandAction } from "../../src/cli/commands/compress.js";
import { distill } from "../../src/cli/commands/distill.js";
import { online } from "../../src/cli/commands/online.js";
import { run } from "../../src/cli/commands/run.js";
import { trainTeacher, type TrainTeacherOptions } from "../../src/cli/commands/train-teacher.js";
import { loadArtefact, readManifest } from "../../src/models/artefact.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "distillrec-outputs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const quiet: CommandDeps = { log: { info() {}, warn() {} }, print() {} };

// 60 users with 8 events each over 40 items: enough for a leave-one-out split and a one-epoch teacher.
const events = join(dir, "events.csv");
const EVENTS = [
  "user,item,timestamp",
  ...Array.from({ length: 480 }, (_, r) => `u${Math.floor(r / 8)},i${(r * 7 + Math.floor(r / 8)) % 40},${r}`),
].join("\n");
writeFileSync(events, `${EVENTS}\n`);

function teacherOptions(out: string, more: Partial<TrainTeacherOptions> = {}): TrainTeacherOptions {
  return { data: events, dim: 4, epochs: 1, negatives: 20, threads: 1, progress: false, out, ...more };
}

/** Everything under `path`, as relative path → contents ("<dir>" for directories). */
function snapshot(path: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    files[full.slice(path.length)] = entry.isDirectory() ? "<dir>" : readFileSync(full, "latin1");
  }
  return files;
}

/** `promise` rejects with a UsageError whose message is exactly `message`, and `dir` is as it was. */
async function refuses(promise: () => Promise<unknown>, message: string): Promise<void> {
  const before = snapshot(dir);
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
  assert.deepEqual(snapshot(dir), before, "nothing was written, moved or removed");
}

describe("artefact outputs: train-teacher, distill, compress, online", () => {
  const teacher = join(dir, "teacher");
  before(async () => {
    await trainTeacher(teacherOptions(teacher), quiet);
  });

  test("--out naming the --data file is refused and the file kept", async () => {
    await refuses(
      () => trainTeacher(teacherOptions(events), quiet),
      `--out ${events}: is the input --data ${events}; write the output elsewhere`,
    );
    assert.equal(readFileSync(events, "utf8"), `${EVENTS}\n`);
  });

  test("--out naming a file that is no input is refused too, --force or not", async () => {
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "mine");
    const message = `--out ${notes}: a file; only a model artefact or an empty directory is replaced, give another path`;
    await refuses(() => trainTeacher(teacherOptions(notes), quiet), message);
    await refuses(() => trainTeacher(teacherOptions(notes, { force: true }), quiet), message);
  });

  test("--out naming a directory of other files is refused, --force or not, and its files kept", async () => {
    const project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(join(project, "README.md"), "# mine");
    await refuses(
      () => trainTeacher(teacherOptions(project, { force: true }), quiet),
      `--out ${project}: a directory that is not a model artefact (it holds README.md); only a model artefact ` +
        "or an empty directory is replaced, give another path",
    );
  });

  test("an existing artefact is refused without --force, and replaced with it", async () => {
    const before = readManifest(teacher);
    await refuses(
      () => trainTeacher(teacherOptions(teacher, { seed: 7 }), quiet),
      `--out ${teacher}: a model artefact is already there; --force replaces it`,
    );
    const replaced = await trainTeacher(teacherOptions(teacher, { seed: 7, force: true }), quiet);
    assert.notEqual(replaced.manifest.id, before.id, "another seed, other weights");
    assert.equal(loadArtefact(teacher).manifest.id, replaced.manifest.id);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.includes(".tmp-") || name.includes(".old-")),
      [],
    );
  });

  test("an empty directory is written into", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    await trainTeacher(teacherOptions(empty), quiet);
    assert.equal(loadArtefact(empty).manifest.kind, "bpr-mf");
  });

  test("distill refuses --out naming its teacher, even with --force", async () => {
    await refuses(
      () => distill({ teacher, student: "bpr-mf", dim: 2, epochs: 1, out: teacher, force: true }, quiet),
      `--out ${teacher}: is the input --teacher ${teacher}; write the output elsewhere`,
    );
  });

  test("compress refuses --out naming its model, even with --force", async () => {
    await refuses(
      () => compressCommandAction({ model: teacher, steps: "int8", out: teacher, force: true }, quiet),
      `--out ${teacher}: is the input --model ${teacher}; write the output elsewhere`,
    );
  });

  test("online refuses --out naming its --replay file, and an artefact without --force", async () => {
    await refuses(
      () => online({ replay: events, model: teacher, teacher: false, out: events }, quiet),
      `--out ${events}: is the input --replay ${events}; write the output elsewhere`,
    );
    const other = join(dir, "empty");
    await refuses(
      () => online({ replay: events, model: teacher, teacher: false, out: other }, quiet),
      `--out ${other}: a model artefact is already there; --force replaces it`,
    );
  });

  test("the command line reports a refusal in one line, with exit code 2", () => {
    const child = spawnSync(
      process.execPath,
      [MAIN, "train-teacher", "--data", events, "--out", events, "--dim", "4", "--epochs", "1"],
      { encoding: "utf8" },
    );
    assert.equal(child.status, 2);
    assert.equal(
      child.stderr,
      `distillrec: --out ${events}: is the input --data ${events}; write the output elsewhere\n`,
    );
    assert.equal(readFileSync(events, "utf8"), `${EVENTS}\n`);
  });
});

describe("run outputs", () => {
  const config = join(dir, "tiny.json");
  writeFileSync(
    config,
    JSON.stringify({
      name: "tiny",
      threads: 1,
      data: { kind: "file", path: events },
      evaluation: { negatives: 20, validationNegatives: 10, fullRanking: false },
      teachers: [{ name: "teacher", model: { kind: "bpr-mf", dim: 4, seed: 1 }, train: { epochs: 1 } }],
      student: { model: { kind: "bpr-mf", dim: 2, seed: 2 }, train: { epochs: 1 } },
      distillation: { methods: [{ name: "ranking", weights: { hard: 1, ranking: 0.5 } }] },
    }),
  );

  test("a run re-run into its own directory replaces the artefacts it wrote", async () => {
    const out = join(dir, "run");
    const first = await run({ config, out, progress: false }, quiet);
    const ids = first.models.map((m) => readManifest(m.artefact!).id);
    const second = await run({ config, out, progress: false }, quiet);
    assert.deepEqual(
      second.models.map((m) => readManifest(m.artefact!).id),
      ids,
      "the same config, the same models",
    );
    assert.deepEqual(readdirSync(out).sort(), ["models", "report.html", "soft-labels", "summary.json"]);
    assert.deepEqual(readdirSync(join(out, "models")).sort(), ["student-ranking", "teacher"]);
  });

  test("a directory holding anything a run does not write is refused before anything is written", async () => {
    const home = join(dir, "home");
    mkdirSync(home);
    writeFileSync(join(home, "summary.json"), "my own summary");
    writeFileSync(join(home, "thesis.tex"), "years of work");
    await refuses(
      () => run({ config, out: home, progress: false }, quiet),
      `output directory ${home}: not a run directory (it holds thesis.tex); give a new or empty directory, ` +
        "or an earlier run's",
    );
    assert.equal(existsSync(join(home, "models")), false);
  });

  test("an output directory that is the run's data file is refused", async () => {
    await refuses(
      () => run({ config, out: events, progress: false }, quiet),
      `output directory ${events}: is the input data ${events}; write the output elsewhere`,
    );
  });
});
