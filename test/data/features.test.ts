import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DataError } from "../../src/data/errors.js";
import { readFeatures, UNKNOWN_TOKEN } from "../../src/data/features.js";
import { IdMap } from "../../src/data/idmap.js";
import { readInteractions } from "../../src/data/readers.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-features-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function fixture(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Token strings of row `row` of a multi-valued column. */
function tokens(column: { vocab: IdMap; offsets: Int32Array; ids: Int32Array }, row: number): string[] {
  return Array.from(column.ids.subarray(column.offsets[row], column.offsets[row + 1]), (id) =>
    column.vocab.external(id),
  );
}

async function rejectsAt(promise: Promise<unknown>, file: string, line: number, reason: RegExp): Promise<void> {
  let caught: unknown;
  await promise.catch((error: unknown) => (caught = error));
  assert.ok(caught instanceof DataError, `expected a DataError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.equal(caught.line, line);
  assert.match(caught.reason, reason);
  assert.ok(caught.message.startsWith(line > 0 ? `${file}:${line}: ` : `${file}: `), caught.message);
}

const USER_FILE =
  "user_id:token\tgender:token\tage:float\ttags:token_seq\n" +
  "u3\tF\t30\tx y\n" +
  "ghost\tM\t99\tz\n" +
  "u1\tM\t10\ty\n" +
  "u2\t\t\t\n";

describe("RecBole side features", () => {
  test("token → categorical, token_seq → multi, float → z-scored numeric, aligned to dense indices", async () => {
    const users = IdMap.fromJSON(["u1", "u2", "u3", "u4"]);
    const { table, unmatchedRows, entitiesWithoutRow, report } = await readFeatures(
      fixture("people.user", USER_FILE),
      users,
    );
    assert.equal(unmatchedRows, 1, "ghost has no interactions");
    assert.equal(entitiesWithoutRow, 1, "u4 has no row");
    assert.equal(report.skipped, 0);

    const gender = table.categorical.gender!;
    assert.equal(gender.vocab.external(0), UNKNOWN_TOKEN);
    assert.deepEqual(gender.vocab.toJSON(), [UNKNOWN_TOKEN, "F", "M"], "ghost's rows add no tokens");
    assert.deepEqual(Array.from(gender.ids), [2, 0, 1, 0]);

    const tags = table.multi.tags!;
    assert.deepEqual(
      [0, 1, 2, 3].map((row) => tokens(tags, row)),
      [["y"], [UNKNOWN_TOKEN], ["x", "y"], [UNKNOWN_TOKEN]],
    );

    const age = table.numeric.age!;
    assert.equal(age.mean, 20);
    assert.equal(age.std, 10);
    assert.deepEqual(Array.from(age.values), [-1, 0, 1, 0]);
    assert.deepEqual(Array.from(age.missing), [0, 1, 0, 1]);
  });

  test("a schema selects and overrides RecBole columns", async () => {
    const users = IdMap.fromJSON(["u1", "u2", "u3"]);
    const { table } = await readFeatures(fixture("select.user", USER_FILE), users, { schema: { age: "categorical" } });
    assert.deepEqual(Object.keys(table.categorical), ["age"]);
    assert.deepEqual(Object.keys(table.multi), []);
    assert.deepEqual(Object.keys(table.numeric), []);
    assert.deepEqual(table.categorical.age!.vocab.toJSON(), [UNKNOWN_TOKEN, "30", "10"]);
  });

  test("vocabularies survive a JSON round trip", async () => {
    const users = IdMap.fromJSON(["u1", "u2", "u3"]);
    const { table } = await readFeatures(fixture("vocab.user", USER_FILE), users);
    const vocab = table.multi.tags!.vocab;
    const restored = IdMap.fromJSON(JSON.parse(JSON.stringify(vocab)) as string[]);
    assert.deepEqual(restored.toJSON(), vocab.toJSON());
    assert.equal(restored.get("y"), vocab.get("y"));
  });
});

describe("CSV/TSV side features", () => {
  test("declared schema, list separator, quoted cells and a chosen id column", async () => {
    const path = fixture(
      "movies.csv",
      'title,movieId,genres,year\n"Heat, 1995",10,Action|Crime,1995\nToy Story,20,Animation,\n"Odd ""Quote""",30,,2000\n',
    );
    const items = IdMap.fromJSON(["20", "10", "30"]);
    const { table } = await readFeatures(path, items, {
      idColumn: "movieId",
      schema: { title: "categorical", genres: "multi", year: "numeric" },
      chunkSize: 5,
    });
    assert.deepEqual(
      Array.from(table.categorical.title!.ids, (id) => table.categorical.title!.vocab.external(id)),
      ["Toy Story", "Heat, 1995", 'Odd "Quote"'],
    );
    const genres = table.multi.genres!;
    assert.deepEqual(
      [0, 1, 2].map((row) => tokens(genres, row)),
      [["Animation"], ["Action", "Crime"], [UNKNOWN_TOKEN]],
    );
    assert.deepEqual(Array.from(table.numeric.year!.missing), [1, 0, 0]);
    assert.equal(table.numeric.year!.mean, 1997.5);
  });

  test("a constant numeric column normalises to zeros instead of dividing by zero", async () => {
    const path = fixture("const.tsv", "id\tprice\na\t5\nb\t5\n");
    const { table } = await readFeatures(path, IdMap.fromJSON(["a", "b"]), { schema: { price: "numeric" } });
    assert.deepEqual(Array.from(table.numeric.price!.values), [0, 0]);
    assert.equal(table.numeric.price!.std, 0);
  });
});

describe("bad feature input", () => {
  const ids = IdMap.fromJSON(["a", "b"]);

  test("an unknown column in the schema names the available columns", async () => {
    const path = fixture("cols.csv", "id,colour\na,red\n");
    await rejectsAt(
      readFeatures(path, ids, { schema: { color: "categorical" } }),
      path,
      1,
      /unknown column in schema "color"; available columns: id, colour/,
    );
  });

  test("a non-numeric and a non-finite numeric cell", async () => {
    const notNumber = fixture("price.tsv", "id\tprice\na\t1\nb\tcheap\n");
    await rejectsAt(
      readFeatures(notNumber, ids, { schema: { price: "numeric" } }),
      notNumber,
      3,
      /^price "cheap" is not a number$/,
    );
    const notFinite = fixture("price2.tsv", "id\tprice\na\tNaN\n");
    await rejectsAt(
      readFeatures(notFinite, ids, { schema: { price: "numeric" } }),
      notFinite,
      2,
      /^price "NaN" is not finite$/,
    );
  });

  test("a duplicate id", async () => {
    const path = fixture("dup.item", "item_id:token\tkind:token\na\tx\nb\ty\na\tz\n");
    await rejectsAt(readFeatures(path, ids), path, 4, /duplicate id "a" \(first on line 2\)/);
  });

  test("a row with the wrong number of fields", async () => {
    const path = fixture("short.item", "item_id:token\tkind:token\na\n");
    await rejectsAt(readFeatures(path, ids), path, 2, /expected 2 tab-separated fields but found 1/);
  });

  test("an unknown type in a RecBole header, and an unsupported one", async () => {
    const unknown = fixture("bad.item", "item_id:token\tkind:categorical\na\tx\n");
    await rejectsAt(
      readFeatures(unknown, ids),
      unknown,
      1,
      /unknown type "categorical" in header cell "kind:categorical"/,
    );
    const unsupported = fixture("vec.item", "item_id:token\temb:float_seq\na\t1 2\n");
    await rejectsAt(readFeatures(unsupported, ids), unsupported, 1, /"emb" has type float_seq, which is not supported/);
  });

  test("a semicolon file read as CSV", async () => {
    const path = fixture("semi.csv", "id;colour\na;red\n");
    await rejectsAt(
      readFeatures(path, ids, { schema: { colour: "categorical" } }),
      path,
      1,
      /the file seems to be semicolon-separated/,
    );
  });

  test("an empty file and a header-only file", async () => {
    const empty = fixture("empty.user", "");
    await rejectsAt(readFeatures(empty, ids), empty, 0, /^file is empty$/);
    const headerOnly = fixture("header.user", "user_id:token\tage:float\n");
    await rejectsAt(readFeatures(headerOnly, ids), headerOnly, 0, /^no rows \(header only\)$/);
  });

  test("lenient mode skips bad rows without applying any of their cells", async () => {
    const path = fixture("lenient.user", "user_id:token\tjob:token\tage:float\na\tnew-job\tx\na\tdev\t30\nb\tops\n");
    const { table, report } = await readFeatures(path, ids, { lenient: true });
    assert.equal(report.skipped, 2);
    assert.deepEqual(
      report.reasons,
      new Map([
        ["age is not a number", 1],
        ["wrong number of fields", 1],
      ]),
    );
    assert.deepEqual(table.categorical.job!.vocab.toJSON(), [UNKNOWN_TOKEN, "dev"]);
    assert.deepEqual(Array.from(table.numeric.age!.missing), [0, 1]);
  });
});

const ml100k = resolve(process.cwd(), "../shared/data/ml-100k");

describe("ml-100k side features", () => {
  test(
    "user and item features line up with the interaction ids",
    { skip: !existsSync(ml100k) && "ml-100k not present" },
    async () => {
      const dataset = await readInteractions(join(ml100k, "ml-100k.inter"));
      const users = await readFeatures(join(ml100k, "ml-100k.user"), dataset.users);
      const items = await readFeatures(join(ml100k, "ml-100k.item"), dataset.items);
      assert.equal(users.unmatchedRows + users.entitiesWithoutRow, 0);
      assert.equal(items.unmatchedRows + items.entitiesWithoutRow, 0);
      assert.deepEqual(Object.keys(users.table.categorical).sort(), ["age", "gender", "occupation", "zip_code"]);
      const gender = users.table.categorical.gender!;
      assert.deepEqual(gender.vocab.toJSON().sort(), ["F", "M", UNKNOWN_TOKEN]);
      const genres = items.table.multi.class!;
      assert.equal(genres.offsets.length, 1683);
      // ml-100k has 18 genres plus "unknown"; the vocab adds [UNK].
      assert.equal(genres.vocab.size, 20);
      const goldenEye = dataset.items.get("2")!;
      assert.deepEqual(tokens(genres, goldenEye), ["Action", "Adventure", "Thriller"]);
    },
  );
});
