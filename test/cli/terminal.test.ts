// Output for people: the short line of each kind of log record, the JSON log kept in a file, warnings shown
// even with --quiet, no bars off a terminal; and `run` itself in both formats — human lines on stderr with
// the JSON in the run's run.log, or JSON lines on stderr (the default off a terminal) and no file.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultLogFormat, humanLine, HumanLog } from "../../src/cli/commands/terminal.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "distillrec-terminal-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stream that is not a terminal, as the bars see it. */
const pipe = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;

describe("human lines", () => {
  test("a line per step; epochs are left to the bar", () => {
    assert.equal(
      humanLine({ dataset: "shop", users: 3000, items: 1500, train: 47385, valid: 2809, test: 2809 }, "data"),
      "data         shop: 3,000 users, 1,500 items (train 47,385, valid 2,809, test 2,809)",
    );
    assert.equal(humanLine({ model: "bpr", epoch: 3, loss: 0.2 }, "epoch"), undefined);
    assert.equal(
      humanLine(
        { model: "s", "NDCG@10": 0.3, "full:NDCG@10": 0.12345, parameters: 12000, latencyMs: 0.5 },
        "evaluated",
      ),
      "  ✓ s: test NDCG@10 0.1235 (full ranking), 12,000 parameters, 0.50 ms a request",
    );
    assert.equal(
      humanLine(
        {
          model: "student-listwise",
          validNDCG10: 0.44,
          others: [
            { model: "student-none", validNDCG10: 0.41 },
            { model: "student-ranking", validNDCG10: 0.3 },
          ],
        },
        "student to ship (best by validation NDCG@10)",
      ),
      "student      shipped: student-listwise (best validation NDCG@10 0.4400; next student-none 0.4100, student-ranking 0.3000)",
    );
    assert.equal(humanLine({}, "something new"), "something new");
  });

  test("the log writes its lines, keeps every record as JSON in the file, and shows warnings when quiet", () => {
    const file = join(dir, "log", "run.log");
    const lines: string[] = [];
    const log = new HumanLog({ write: (text) => lines.push(text), file, stream: pipe });
    log.info({ model: "t", spec: { kind: "bpr-mf" } }, "training teacher");
    log.info({ model: "t", epoch: 1, loss: 0.5 }, "epoch");
    log.progress({ task: "t", done: 1, total: 3, unit: "epoch" });
    log.warn({ model: "t", reason: "diverged" }, "training failed");
    assert.deepEqual(lines, ["teacher      training t\n", "warning: training failed (model t, reason diverged)\n"]);
    const records = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string; level: number });
    assert.deepEqual(
      records.map((r) => r.msg),
      ["training teacher", "epoch", "training failed"],
    );

    const quiet: string[] = [];
    const hushed = new HumanLog({ write: (text) => quiet.push(text), quiet: true, stream: pipe });
    hushed.info({ dataset: "d" }, "data");
    hushed.warn({}, "careful");
    assert.deepEqual(quiet, ["warning: careful\n"]);
  });

  test("the default format follows stdout: human on a terminal, JSON for machines", () => {
    assert.equal(defaultLogFormat({ isTTY: true }), "human");
    assert.equal(defaultLogFormat({ isTTY: false }), "json");
    assert.equal(defaultLogFormat({}), "json");
  });
});

describe("run's output", () => {
  const config = join(dir, "tiny.yaml");
  writeFileSync(
    config,
    [
      "name: tiny",
      "seed: 0",
      "data: { kind: synthetic, synthetic: { users: 120, items: 60, events: 2000 } }",
      "evaluation: { negatives: 20, validationNegatives: 20, ks: [10], fullRanking: false }",
      "teachers:",
      "  - { name: teacher, model: { kind: bpr-mf, dim: 8, seed: 1 }, train: { epochs: 2, batchSize: 256, lr: 0.01, optimizer: adam, patience: 2 } }",
      "student:",
      "  model: { kind: bpr-mf, dim: 4, seed: 2 }",
      "  train: { epochs: 2, batchSize: 256, lr: 0.01, optimizer: adam, patience: 2 }",
      "distillation: { methods: [{ name: none }] }",
      "threads: 1",
    ].join("\n"),
  );
  const run = (out: string, ...args: string[]) =>
    spawnSync(process.execPath, [MAIN, "run", "--config", config, "--out", out, ...args], { encoding: "utf8" });

  test("--log-format human: lines for people on stderr, the JSON in run.log, the table on stdout", () => {
    const out = join(dir, "human");
    const child = run(out, "--log-format", "human");
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stderr, /^data {9}synthetic/m);
    assert.match(child.stderr, /^teacher {6}training teacher$/m);
    assert.ok(!child.stderr.includes("{"), `no JSON on stderr:\n${child.stderr}`);
    assert.match(child.stdout, /^run "tiny": 2 models/m);
    assert.match(child.stdout, new RegExp(`^log +${join(out, "run.log")}$`, "m"));
    const records = readFileSync(join(out, "run.log"), "utf8").trim().split("\n");
    assert.ok(records.some((line) => (JSON.parse(line) as { msg: string }).msg === "epoch"));
    // A run directory with its log may be run into again.
    const again = run(out, "--log-format", "human");
    assert.equal(again.status, 0, again.stderr);
  });

  test("off a terminal: JSON lines on stderr, and no log file", () => {
    const out = join(dir, "json");
    const child = run(out);
    assert.equal(child.status, 0, child.stderr);
    const lines = child.stderr.trim().split("\n");
    assert.ok(lines.length > 3);
    for (const line of lines) assert.equal(typeof (JSON.parse(line) as { msg: string }).msg, "string");
    assert.equal(existsSync(join(out, "run.log")), false);
  });
});
