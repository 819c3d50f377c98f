// Line endings the readers split on (LF, CRLF and a lone CR, as old Mac files have), and files that cannot
// be read at all: each is read, or refused with a DataError naming the file (and line).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError } from "../../src/data/errors.js";
import { readFeatures } from "../../src/data/features.js";
import { IdMap } from "../../src/data/idmap.js";
import { readInteractions } from "../../src/data/readers.js";
import { forEachLine, readHead } from "../../src/data/readers/lines.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-line-endings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function fixture(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function linesOf(path: string, chunkSize: number): Promise<string[]> {
  const seen: string[] = [];
  await forEachLine(path, (buf, start, end) => seen.push(buf.toString("utf8", start, end)), chunkSize);
  return seen;
}

async function refusal(promise: Promise<unknown>): Promise<DataError> {
  let caught: unknown;
  await promise.catch((error: unknown) => (caught = error));
  assert.ok(caught instanceof DataError, `expected a DataError, got ${String(caught)}`);
  return caught;
}

describe("line endings", () => {
  test("LF, CRLF and lone CR each end a line, whatever the chunk size (a CRLF split across chunks too)", async () => {
    const path = fixture("mixed.txt", "a\rbb\r\nccc\n\r\rd\r\n\re");
    for (const chunkSize of [1, 2, 3, 4, 5, 64]) {
      assert.deepEqual(await linesOf(path, chunkSize), ["a", "bb", "ccc", "", "", "d", "", "e"], `chunk ${chunkSize}`);
    }
  });

  test("a file ending in CR has no empty last line", async () => {
    const path = fixture("trailing-cr.txt", "a\rb\r");
    for (const chunkSize of [1, 2, 64]) assert.deepEqual(await linesOf(path, chunkSize), ["a", "b"]);
  });

  test("an old-Mac CSV (CR only) reads every row, and its header is only the first line", async () => {
    const path = fixture("old-mac.csv", "user,item,timestamp\ru1,i1,100\ru2,i1,200\ru1,i2,300\r");
    assert.deepEqual(await readHead(path), { firstLine: "user,item,timestamp", estimatedLines: 4 });
    for (const chunkSize of [1, 7, 1 << 16]) {
      const dataset = await readInteractions(path, { chunkSize });
      assert.deepEqual(dataset.users.toJSON(), ["u1", "u2"], `chunk ${chunkSize}`);
      assert.deepEqual(dataset.items.toJSON(), ["i1", "i2"]);
      assert.deepEqual(Array.from(dataset.interactions.timestamps), [100, 200, 300]);
    }
  });

  test("an old-Mac RecBole .inter and feature file read as their LF twins do", async () => {
    const lf = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n2\t20\t3\t200\n";
    const cr = fixture("cr.inter", lf.replaceAll("\n", "\r"));
    const twin = fixture("lf.inter", lf);
    const [a, b] = [await readInteractions(cr), await readInteractions(twin)];
    assert.equal(a.interactions.length, 2);
    assert.deepEqual(a.interactions, b.interactions);
    const items = IdMap.fromJSON(["10", "20"]);
    const features = fixture("cr.item", "item_id:token\tgenre:token\r10\tdrama\r20\tcomedy\r");
    const { table } = await readFeatures(features, items);
    const genre = table.categorical.genre!;
    assert.deepEqual(genre.vocab.toJSON().slice(1), ["drama", "comedy"]);
    assert.deepEqual(Array.from(genre.ids), [1, 2]);
  });

  test("a malformed row of an old-Mac file names the file and its line", async () => {
    const path = fixture("bad-old-mac.csv", "user,item,rating\ru1,i1,4\ru2,i1,4\ru3,i1,lots\r");
    const error = await refusal(readInteractions(path));
    assert.equal(error.line, 4);
    assert.equal(error.message, `${path}:4: rating "lots" is not a number`);
  });
});

describe("files that cannot be read", () => {
  test("a missing file is a DataError naming it (not a bare ENOENT)", async () => {
    const path = join(dir, "nowhere.csv");
    const error = await refusal(readInteractions(path));
    assert.equal(error.message, `${path}: no such file or directory`);
  });

  test("a directory is a DataError naming it (not a bare EISDIR)", async () => {
    const path = join(dir, "a-directory.csv");
    mkdirSync(path);
    const error = await refusal(readInteractions(path));
    assert.equal(error.message, `${path}: a directory, not a file`);
  });
});
