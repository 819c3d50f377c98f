import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { describeParameterFile, inspectCommand, summarizeParameterFile } from "../../src/cli/commands/inspect.js";
import { saveParameters } from "../../src/engine/serialize.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-inspect-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const path = join(dir, "model.params");
saveParameters(
  path,
  [
    ["user.embedding", { shape: [1000, 16], data: new Float32Array(16000) }],
    ["bias", { shape: [], data: new Float32Array([0.5]) }],
  ],
  { model: "two-tower", epoch: 3 },
);
const halfPath = join(dir, "half.params");
saveParameters(halfPath, { w: { shape: [3, 5], data: new Float32Array(15) } }, {}, { dtype: "f16" });
const brokenPath = join(dir, "broken.params");
writeFileSync(brokenPath, readFileSync(path).subarray(0, 200));

/** Run the command on `args`, capturing its output and exit instead of touching the process. */
async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  let out = "";
  let err = "";
  const command = inspectCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await command.parseAsync(args, { from: "user" });
    return { out, err, exitCode: 0 };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, exitCode: e.exitCode };
  }
}

describe("distillrec inspect", () => {
  test("describes version, meta, every tensor and the checksum", () => {
    const lines = describeParameterFile(path).split("\n");
    assert.match(lines[0]!, /^file +.*model\.params \([\d,]+ bytes\)$/);
    assert.ok(lines.includes("format    distillrec parameters, version 2"));
    assert.ok(lines.includes('meta      {"model":"two-tower","epoch":3}'));
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!.split(/ {2,}/);
    assert.deepEqual(row("name"), ["name", "dtype", "layout", "shape", "elements", "stored", "bytes"]);
    assert.deepEqual(row("user.embedding"), [
      "user.embedding",
      "f32",
      "dense",
      "[1000, 16]",
      "16,000",
      "16,000",
      "64,000",
    ]);
    assert.deepEqual(row("bias"), ["bias", "f32", "dense", "[]", "1", "1", "4"]);
    assert.deepEqual(row("total"), ["total (2 tensors)", "16,001", "16,001", "64,004"]);
    assert.match(lines.at(-1)!, /^checksum OK \(crc32 0x[0-9a-f]{8}\)$/);
  });

  test("summarises f16 tensors with their stored size", () => {
    const summary = summarizeParameterFile(halfPath);
    assert.equal(summary.version, 2);
    assert.equal(summary.bytes, readFileSync(halfPath).length);
    assert.deepEqual(summary.tensors, [
      { name: "w", dtype: "f16", layout: "dense", stored: 15, shape: [3, 5], elements: 15, bytes: 30 },
    ]);
  });

  test("is a subcommand named inspect with a description, a file argument and --json", () => {
    const command = inspectCommand();
    assert.equal(command.name(), "inspect");
    assert.match(command.description(), /parameter file/);
    assert.deepEqual(
      command.registeredArguments.map((a) => [a.name(), a.required]),
      [["file", true]],
    );
    assert.ok(command.options.some((o) => o.long === "--json"));
  });

  test("prints the report, or JSON with --json", async () => {
    const text = await run([path]);
    assert.equal(text.exitCode, 0);
    assert.equal(text.out, `${describeParameterFile(path)}\n`);
    const json = await run([path, "--json"]);
    assert.equal(json.exitCode, 0);
    assert.deepEqual(JSON.parse(json.out), summarizeParameterFile(path));
  });

  test("refuses a damaged or missing file with a one-line error and exit code 1", async () => {
    for (const file of [brokenPath, join(dir, "absent.params")]) {
      const result = await run([file, "--json"]);
      assert.equal(result.exitCode, 1);
      assert.equal(result.out, "");
      assert.equal(result.err.trimEnd().split("\n").length, 1);
      assert.match(
        result.err,
        new RegExp(`^error: .*${file.includes("broken") ? "broken.params: truncated" : "ENOENT"}`),
      );
    }
  });
});
