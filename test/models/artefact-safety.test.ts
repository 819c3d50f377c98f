// What saving an artefact may replace (only an artefact or an empty directory) and the refusal of weights
// that are not finite even though every checksum matches.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IdMap } from "../../src/data/idmap.js";
import { ArtefactError, artefactTarget, loadArtefact, readManifest, saveArtefact } from "../../src/models/artefact.js";
import { createModel, type ModelContext } from "../../src/models/index.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-artefact-safety-"));
after(() => rmSync(root, { recursive: true, force: true }));

const context: ModelContext = { numUsers: 3, numItems: 4 };
const users = IdMap.fromJSON(["u0", "u1", "u2"]);
const items = IdMap.fromJSON(["i0", "i1", "i2", "i3"]);
const model = createModel({ kind: "bpr-mf", dim: 2, seed: 1, initStd: 0.5 }, context);

function save(dir: string): void {
  saveArtefact(dir, { model, users, items });
}

/** Everything under `dir`, as relative path → contents ("<dir>" for directories, "<link>" for links). */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length)] = entry.isDirectory()
      ? "<dir>"
      : entry.isSymbolicLink()
        ? "<link>"
        : readFileSync(path, "utf8");
  }
  return files;
}

/** Saving to `target` is refused with an ArtefactError naming it and saying `what`; nothing under root changes. */
function refusesToReplace(target: string, what: RegExp): void {
  const before = snapshot(root);
  assert.throws(
    () => save(target),
    (err: unknown) => {
      assert.ok(err instanceof ArtefactError, `expected an ArtefactError, got ${String(err)}`);
      assert.ok(err.message.startsWith(`${target}: `), err.message);
      assert.match(err.message, what);
      assert.match(err.message, /not replaced/);
      return true;
    },
  );
  assert.deepEqual(snapshot(root), before, "nothing was written, moved or removed");
}

describe("saving an artefact replaces only an artefact or an empty directory", () => {
  test("a file at the path (an input data file named as the output) is refused and kept", () => {
    const data = join(root, "events.csv");
    writeFileSync(data, "user,item\nu0,i0\n");
    refusesToReplace(data, /a file/);
    assert.equal(readFileSync(data, "utf8"), "user,item\nu0,i0\n");
  });

  test("a directory holding other files is refused, its files kept", () => {
    const dir = join(root, "project");
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "notes.txt"), "keep me");
    writeFileSync(join(dir, "src", "main.ts"), "keep me too");
    refusesToReplace(dir, /a directory that is not a model artefact \(it holds (notes\.txt, src|src, notes\.txt)\)/);
  });

  test("an artefact someone added a file to is no longer an artefact: refused, the file kept", () => {
    const dir = join(root, "annotated");
    save(dir);
    writeFileSync(join(dir, "README"), "why this model");
    refusesToReplace(dir, /not a model artefact \(it holds README\)/);
  });

  test("a directory with someone else's manifest.json is refused", () => {
    const dir = join(root, "web-app");
    mkdirSync(dir);
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ name: "my app", icons: [] }));
    refusesToReplace(dir, /without a model artefact manifest/);
  });

  test("a symbolic link is refused, and what it points to kept", () => {
    const pointed = join(root, "pointed");
    save(pointed);
    const link = join(root, "link");
    symlinkSync(pointed, link);
    const id = readManifest(pointed).createdAt;
    refusesToReplace(link, /a symbolic link/);
    assert.equal(readManifest(pointed).createdAt, id);
  });

  test("an empty directory and an existing artefact are replaced, leaving no temporary or old directories", () => {
    const empty = join(root, "replace", "empty");
    mkdirSync(empty, { recursive: true });
    save(empty);
    assert.equal(artefactTarget(empty).kind, "artefact");
    const manifest = readFileSync(join(empty, "manifest.json"), "utf8");
    save(empty);
    assert.notEqual(readFileSync(join(empty, "manifest.json"), "utf8"), manifest, "the manifest was rewritten");
    assert.deepEqual(readdirSync(join(root, "replace")), ["empty"]);
    assert.equal(loadArtefact(empty).manifest.numItems, 4);
  });

  test("artefactTarget tells the kinds apart", () => {
    assert.deepEqual(artefactTarget(join(root, "nothing-here")), { kind: "absent" });
    const empty = join(root, "empty-dir");
    mkdirSync(empty);
    assert.deepEqual(artefactTarget(empty), { kind: "empty" });
    const artefact = join(root, "an-artefact");
    save(artefact);
    assert.deepEqual(artefactTarget(artefact), { kind: "artefact" });
    writeFileSync(join(root, "plain-file"), "");
    assert.deepEqual(artefactTarget(join(root, "plain-file")), { kind: "other", what: "a file" });
  });
});

describe("loading refuses non-finite weights", () => {
  for (const [label, value] of [
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
  ] as const) {
    test(`a weight of ${label}, checksums valid, is an ArtefactError naming weights.bin and the parameter`, () => {
      const poisoned = createModel({ kind: "bpr-mf", dim: 2, seed: 1, initStd: 0.5 }, context);
      const [name, tensor] = poisoned.namedParameters()[1]!;
      tensor.data[3] = value;
      const dir = join(root, `poisoned-${label}`);
      saveArtefact(dir, { model: poisoned, users, items });
      assert.throws(
        () => loadArtefact(dir),
        (err: unknown) => {
          // The class serve maps to 422: a swap to this artefact is the client's mistake, not a crash.
          assert.ok(err instanceof ArtefactError, `expected an ArtefactError, got ${String(err)}`);
          assert.equal(
            err.message,
            `${join(dir, "weights.bin")}: non-finite weight: parameter ${name} holds ${label} at index 3`,
          );
          return true;
        },
      );
    });
  }
});
