import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { UsageError } from "../../src/cli/commands/common.js";
import { ONLINE_DEFAULTS, online, onlineCommand, type OnlineResult } from "../../src/cli/commands/online.js";
import { IdMap } from "../../src/data/idmap.js";
import { createModel } from "../../src/models/index.js";
import { loadArtefact, saveArtefact, type ArtefactLineage } from "../../src/models/artefact.js";
import { TwoTower } from "../../src/models/two-tower.js";
import { ITEMS, USERS, servingContext } from "../helpers/serving.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-online-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const silent = { info() {}, warn() {} };
const users = IdMap.fromJSON(Array.from({ length: USERS }, (_, u) => `u${u}`));
const items = IdMap.fromJSON(Array.from({ length: ITEMS }, (_, i) => `i${i}`));

/** A two-tower artefact over users u0…u29 and items i0…i39; returns its id. */
function saveTwoTower(path: string, dim: number, seed: number, lineage: ArtefactLineage): string {
  const model = new TwoTower({ dim, maxHistory: 10, seed, initStd: 0.3 }, servingContext());
  return saveArtefact(path, { model, users, items, lineage }).id;
}

const teacherDir = join(dir, "teacher");
const studentDir = join(dir, "student");
const teacherId = saveTwoTower(teacherDir, 16, 1, { role: "teacher" });
const studentId = saveTwoTower(studentDir, 8, 2, { role: "student", teacher: teacherId });

/**
 * 600 events, a second apart: the known users and items, and from event 300 on new users n0…n9 and new
 * items j0…j9 too. Deliberately out of time order in the file (the replay sorts it).
 */
const EVENTS = 600;
const rows: string[] = [];
for (let e = 0; e < EVENTS; e++) {
  const fresh = e >= 300 && e % 3 === 0;
  const user = fresh ? `n${e % 10}` : `u${(e * 7) % USERS}`;
  const item = fresh ? `j${(e * 11) % 10}` : `i${(e * 13 + Math.floor(e / 40)) % ITEMS}`;
  rows.push(`${user}\t${item}\t${1_700_000_000 + e}`);
}
rows.reverse();
const eventsPath = join(dir, "events.tsv");
writeFileSync(eventsPath, `user_id\titem_id\ttimestamp\n${rows.join("\n")}\n`);

/** The options of a fast run: small batches and windows, so that the loop decides within 600 events. */
const FAST = { batch: 50, redistillEvery: 200, holdout: 100, watch: 100, window: 200, driftWindow: 100 };

/** Run `online` in-process, capturing what it prints. */
async function run(opts: Parameters<typeof online>[0]): Promise<{ result: OnlineResult; printed: string }> {
  let printed = "";
  const result = await online(opts, { log: silent, print: (text) => (printed += `${text}\n`) });
  return { result, printed };
}

/** Run the built command line, as a user would. */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [MAIN, "online", ...args], { encoding: "utf8" });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe("distillrec online", () => {
  test("replays the log with --json: windows over every event, metrics, decisions, and a saved student", async () => {
    const out = join(dir, "online-out");
    const { result, printed } = await run({ replay: eventsPath, model: studentDir, out, json: true, ...FAST });
    const json = JSON.parse(printed) as OnlineResult;
    assert.deepEqual(Object.keys(json).sort(), Object.keys(result).sort());
    for (const key of ["windows", "overall", "decisions", "eventsPerSecond", "out"]) assert.ok(key in json, key);

    assert.equal(json.events, EVENTS);
    assert.equal(json.newUsers, 10);
    assert.equal(json.newItems, 10);
    assert.equal(json.model, studentId);
    assert.equal(json.teacher, teacherDir, "the lineage's teacher beside the student");
    let next = 0;
    for (const window of json.windows) {
      assert.equal(window.start, next);
      assert.ok(window.from <= window.to);
      for (const name of ["HR@10", "NDCG@10"]) {
        assert.ok(window.metrics[name]! >= 0 && window.metrics[name]! <= 1, `${name} ${window.metrics[name]}`);
      }
      next += window.events;
    }
    assert.equal(next, EVENTS);
    assert.equal(json.windows.length, EVENTS / FAST.window);
    for (const name of ["HR@10", "NDCG@10"]) assert.ok(json.overall[name]! >= 0 && json.overall[name]! <= 1);
    assert.ok(json.overall["NDCG@10"]! <= json.overall["HR@10"]!);
    assert.ok(json.eventsPerSecond > 0);

    assert.ok(Array.isArray(json.decisions));
    assert.equal(json.decisions[0]?.kind, "redistill", "the schedule re-distils after 200 events");
    for (const d of json.decisions) {
      assert.ok(["redistill", "promote", "discard", "rollback", "confirm"].includes(d.kind));
      assert.ok(d.at > 0 && d.at <= EVENTS && d.reason.length > 0);
    }
    assert.ok(
      json.decisions.some((d) => d.kind === "promote" || d.kind === "discard"),
      "the gate decided on the candidate",
    );

    assert.equal(json.out, out);
    const saved = loadArtefact(out);
    assert.equal(saved.manifest.id, json.id);
    assert.equal(saved.manifest.kind, "two-tower");
    for (let n = 0; n < 10; n++) {
      assert.notEqual(saved.users.get(`n${n}`), undefined, `n${n}`);
      assert.notEqual(saved.items.get(`j${n}`), undefined, `j${n}`);
    }
    assert.equal(saved.users.get("u0"), 0, "the student's ids keep their rows");
    assert.equal(saved.manifest.lineage.onlineReplay, "events.tsv");
    assert.equal(saved.manifest.lineage.onlineEvents, EVENTS);
    assert.equal(saved.manifest.lineage.onlineFrom, studentId);
    assert.equal(saved.manifest.lineage.teacher, teacherId);
  });

  test("prints a table per window, the decisions and the speed; --no-teacher decides nothing, writes nothing", async () => {
    const { result, printed } = await run({ replay: eventsPath, model: studentDir, teacher: false, ...FAST });
    assert.equal(result.teacher, null);
    assert.deepEqual(result.decisions, []);
    assert.equal(result.out, null);
    const lines = printed.split("\n");
    assert.match(
      lines[0]!,
      /^replayed 600 events from events\.tsv through two-tower-\w+ \(10 new users, 10 new items\)$/,
    );
    assert.match(printed, /^events +HR@10 +NDCG@10$/m);
    assert.match(printed, /^1–200 +\d\.\d{4} +\d\.\d{4}$/m);
    assert.match(printed, /^401–600 +\d\.\d{4} +\d\.\d{4}$/m);
    assert.match(printed, /^overall +\d\.\d{4} +\d\.\d{4}$/m);
    assert.match(printed, /^decisions: none \(no teacher, no re-distillation\)$/m);
    assert.match(printed, /^learned 600 events at [\d,]+ events\/s$/m);
    assert.doesNotMatch(printed, /saved/);
  });

  test("refuses options out of range with a UsageError naming the option", async () => {
    const base = { replay: eventsPath, model: studentDir };
    for (const [opts, message] of [
      [{ driftDrop: 1.5 }, /^--drift-drop 1\.5: must be a fraction in \(0, 1\)$/],
      [{ tolerance: 1 }, /^--tolerance 1: must be a fraction in \[0, 1\)$/],
      [{ batch: 0 }, /^--batch 0: must be a positive integer$/],
      [{ format: "xml" as never }, /^--format xml: must be one of auto, recbole, movielens, csv, tsv, jsonl$/],
    ] as const) {
      await assert.rejects(
        run({ ...base, ...opts }),
        (err: Error) => err instanceof UsageError && message.test(err.message),
      );
    }
    await assert.rejects(
      onlineCommand().exitOverride().parseAsync(["--replay", eventsPath, "--model", studentDir, "--watch", "-3"], {
        from: "user",
      }),
      (err: Error) => err instanceof UsageError && err.message === "--watch -3: must be a positive integer",
    );
    await assert.rejects(
      run({ ...base, replay: join(dir, "absent.tsv") }),
      (err: Error) => err instanceof UsageError && /absent\.tsv: no such file/.test(err.message),
    );
  });

  test("refuses a model online learning cannot grow, naming which artefact", async () => {
    const neumf = createModel({ kind: "neumf", gmfDim: 4, mlpSizes: [8, 4], seed: 0 }, servingContext());
    const neumfDir = join(dir, "neumf");
    const neumfId = saveArtefact(neumfDir, { model: neumf, users, items, lineage: {} }).id;
    await assert.rejects(
      run({ replay: eventsPath, model: neumfDir }),
      (err: Error) =>
        err instanceof UsageError &&
        err.message ===
          `--model ${neumfDir}: online learning needs a dot-product model (user and item vectors), not neumf`,
    );
    const pupilDir = join(dir, "pupil-of-neumf");
    saveTwoTower(pupilDir, 8, 3, { teacher: neumfId });
    await assert.rejects(
      run({ replay: eventsPath, model: pupilDir }),
      (err: Error) =>
        err instanceof UsageError &&
        err.message.startsWith(`the lineage's teacher ${neumfDir}: online learning needs a dot-product model`) &&
        err.message.endsWith("(--no-teacher learns without re-distillation)"),
    );
    await assert.rejects(
      run({ replay: eventsPath, model: studentDir, teacher: join(dir, "nowhere") }),
      /nowhere: not a model artefact directory/,
    );
  });

  test("the help names the options and their defaults", () => {
    let help = "";
    const command: Command = onlineCommand()
      .exitOverride()
      .configureOutput({ writeOut: (s) => (help += s) });
    assert.throws(() => command.parse(["--help"], { from: "user" }), CommanderError);
    assert.match(help, /^Usage: online \[options\]/);
    for (const option of ["--replay <file>", "--model <dir>", "--no-teacher", "--no-drift", "--json", "--quiet"]) {
      assert.ok(help.includes(option), option);
    }
    assert.ok(help.includes(`(default ${ONLINE_DEFAULTS.redistillEvery})`));
    assert.ok(help.includes(`(default ${ONLINE_DEFAULTS.userSlots})`));
  });

  test("the command line: a malformed line is one line naming the file and line (exit 1), a bad option exit 2", () => {
    const bad = join(dir, "bad.tsv");
    writeFileSync(bad, "user_id\titem_id\ttimestamp\nu1\ti1\t10\nu2\ti2\t11\nu3\ti3\n");
    const malformed = cli(["--replay", bad, "--model", studentDir, "--quiet"]);
    assert.equal(malformed.status, 1);
    assert.equal(malformed.stdout, "");
    assert.equal(malformed.stderr.trimEnd().split("\n").length, 1, malformed.stderr);
    assert.match(malformed.stderr, new RegExp(`^distillrec: ${bad.replace(/[.\\]/g, "\\$&")}:4: `));

    const option = cli(["--replay", eventsPath, "--model", studentDir, "--drift-drop", "2"]);
    assert.equal(option.status, 2);
    assert.equal(option.stderr.trim(), "distillrec: --drift-drop 2: must be a fraction in (0, 1)");
  });
});
