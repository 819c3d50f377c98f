// The messages of paths that cannot be read: each names the path (Node's own ENOENT and EISDIR may not).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { dataFromPath, UsageError } from "../../src/cli/commands/common.js";
import { inspectCommand } from "../../src/cli/commands/inspect.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-messages-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("unreadable paths", () => {
  test("--data naming a missing .inter file says so, naming it (not a bare ENOENT)", () => {
    const missing = join(dir, "missing.inter");
    assert.throws(
      () => dataFromPath(missing),
      (err: unknown) => err instanceof UsageError && err.message === `--data ${missing}: no such file or directory`,
    );
  });

  test("inspect of a directory names it (not a bare EISDIR), exit code 1", async () => {
    const directory = join(dir, "weights.bin");
    mkdirSync(directory);
    let err = "";
    const command = inspectCommand()
      .exitOverride()
      .configureOutput({ writeOut() {}, writeErr: (s) => (err += s) });
    await assert.rejects(
      command.parseAsync([directory], { from: "user" }),
      (e: unknown) => e instanceof CommanderError && e.exitCode === 1,
    );
    assert.equal(err, `error: ${directory}: a directory, not a file\n`);
  });
});
