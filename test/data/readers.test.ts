import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DataError } from "../../src/data/errors.js";
import { IdMap } from "../../src/data/idmap.js";
import { readDataset, readInteractions } from "../../src/data/readers.js";
import { forEachLine } from "../../src/data/readers/lines.js";
import { EVENT_TYPES, type Dataset } from "../../src/data/types.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-readers-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a fixture file into the test's temporary directory and returns its path. */
function fixture(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The rows as [user id, item id, value, timestamp, event name] tuples, external ids restored. */
function rows(dataset: Dataset): [string, string, number, number, string][] {
  const { interactions: x, users, items } = dataset;
  return Array.from({ length: x.length }, (_, r) => [
    users.external(x.users[r]!),
    items.external(x.items[r]!),
    x.values[r]!,
    x.timestamps[r]!,
    EVENT_TYPES[x.eventTypes[r]!]!,
  ]);
}

/** Asserts that `promise` rejects with a DataError for `file` at `line` whose reason matches `reason`. */
async function rejectsAt(promise: Promise<unknown>, file: string, line: number, reason: RegExp): Promise<DataError> {
  let caught: unknown;
  await promise.catch((error: unknown) => (caught = error));
  assert.ok(caught instanceof DataError, `expected a DataError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.equal(caught.line, line);
  assert.match(caught.reason, reason);
  assert.ok(caught.message.startsWith(line > 0 ? `${file}:${line}: ` : `${file}: `), caught.message);
  return caught;
}

const ML_ROWS = [
  ["1", "10", 5, 100, "rating"],
  ["2", "10", 3.5, 200, "rating"],
  ["1", "20", 1, 300, "rating"],
];

describe("interaction formats", () => {
  test("RecBole .inter with a typed header and an extra column", async () => {
    const path = fixture(
      "small.inter",
      "user_id:token\titem_id:token\trating:float\ttimestamp:float\treview:token_seq\n" +
        "1\t10\t5\t100\tgreat film\n2\t10\t3.5\t200\tok\n1\t20\t1\t300\tbad\n",
    );
    const dataset = await readInteractions(path);
    assert.equal(dataset.name, "small");
    assert.deepEqual(rows(dataset), ML_ROWS);
    assert.equal(dataset.users.size, 2);
    assert.equal(dataset.items.size, 2);
  });

  test("MovieLens u.data, ratings.dat and ratings.csv read the same rows", async () => {
    const data = fixture("u.data", "1\t10\t5\t100\n2\t10\t3.5\t200\n1\t20\t1\t300\n");
    const dat = fixture("ratings.dat", "1::10::5::100\n2::10::3.5::200\n1::20::1::300\n");
    const csv = fixture("ratings.csv", "userId,movieId,rating,timestamp\n1,10,5,100\n2,10,3.5,200\n1,20,1,300\n");
    for (const path of [data, dat, csv]) {
      assert.deepEqual(rows(await readInteractions(path)), ML_ROWS, path);
      assert.deepEqual(rows(await readInteractions(path, { format: "movielens" })), ML_ROWS, path);
    }
  });

  test("CSV with a column mapping, quoted ids, event types and aliases", async () => {
    const path = fixture(
      "events.csv",
      'ts,visitor,product,action\n5,"a,b",p1,view\n6,"say ""hi""",p2,ADD_TO_CART\n7,a,p1,Purchase\n',
    );
    const dataset = await readInteractions(path, {
      columns: { user: "visitor", item: "product", timestamp: "ts", eventType: "action" },
      eventAliases: { add_to_cart: "cart" },
    });
    assert.deepEqual(rows(dataset), [
      ["a,b", "p1", 1, 5, "view"],
      ['say "hi"', "p2", 1, 6, "cart"],
      ["a", "p1", 1, 7, "purchase"],
    ]);
  });

  test("TSV columns are found by common names; without a timestamp rows keep file order", async () => {
    const path = fixture("log.tsv", "score\tuserId\titemId\n0.5\tu1\ti1\n2\tu2\ti1\n");
    assert.deepEqual(rows(await readInteractions(path)), [
      ["u1", "i1", 0.5, 0, "rating"],
      ["u2", "i1", 2, 1, "rating"],
    ]);
  });

  test("headerless TSV with column indices and a default event type", async () => {
    const path = fixture("plain.tsv", "x\t1\t2\nx\t3\t4\n");
    const dataset = await readInteractions(path, {
      header: false,
      columns: { user: 1, item: 2 },
      defaultEventType: "click",
    });
    assert.deepEqual(rows(dataset), [
      ["1", "2", 1, 0, "click"],
      ["3", "4", 1, 1, "click"],
    ]);
  });

  test("JSON lines with key mapping, numeric or string ids and ISO timestamps", async () => {
    const path = fixture(
      "clicks.jsonl",
      '{"u": 7, "i": "sku-1", "t": "2024-01-01T00:00:00Z", "e": "click"}\n' +
        '{"i": 12, "u": "7", "t": "2024-01-01T00:00:10Z", "e": "purchase", "extra": [1]}\n',
    );
    const dataset = await readInteractions(path, {
      columns: { user: "u", item: "i", timestamp: "t", eventType: "e" },
      timestampFormat: "iso",
    });
    assert.deepEqual(rows(dataset), [
      ["7", "sku-1", 1, 1704067200, "click"],
      ["7", "12", 1, 1704067210, "purchase"],
    ]);
    assert.equal(dataset.users.size, 1);
  });

  test("numeric ids of any size map consistently; leading zeros stay distinct", async () => {
    const ids = ["007", "7", "0", "5000000", "12345678901234", "1234567890123456789", "7", "5000000", "12345678901234"];
    const path = fixture("zeros.tsv", "user\titem\n" + ids.map((id) => `${id}\t1\n`).join(""));
    const dataset = await readInteractions(path);
    assert.deepEqual(dataset.users.toJSON(), ids.slice(0, 6));
    assert.deepEqual(Array.from(dataset.interactions.users), [0, 1, 2, 3, 4, 5, 1, 3, 4]);
  });

  test("numbers: decimals, signs and exponents parse exactly", async () => {
    const path = fixture(
      "numbers.tsv",
      "user\titem\trating\ttimestamp\n1\t1\t-1.25\t1.5e9\n1\t2\t.5\t1700000000.123456\n",
    );
    const { interactions } = await readInteractions(path);
    assert.deepEqual(Array.from(interactions.values), [-1.25, 0.5]);
    assert.deepEqual(Array.from(interactions.timestamps), [1.5e9, 1700000000.123456]);
  });

  test("extends id maps passed in, keeping their indices", async () => {
    const users = IdMap.fromJSON(["2", "1"]);
    const dataset = await readInteractions(fixture("extend.data", "1\t10\t5\t100\n3\t10\t4\t200\n"), {
      format: "movielens",
      users,
    });
    assert.equal(dataset.users, users);
    assert.deepEqual(Array.from(dataset.interactions.users), [1, 2]);
  });

  test("CRLF, a BOM, no final newline and lines split across tiny chunks", async () => {
    const body =
      "user_id:token\titem_id:token\trating:float\ttimestamp:float\r\n1\t10\t5\t100\r\n2\t10\t3.5\t200\r\n1\t20\t1\t300";
    const path = fixture("crlf.inter", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]));
    for (const chunkSize of [1, 2, 3, 7, 1 << 16]) {
      assert.deepEqual(rows(await readInteractions(path, { chunkSize })), ML_ROWS, `chunk size ${chunkSize}`);
    }
  });

  test("the line splitter yields every line exactly, whatever the chunk size", async () => {
    const lines = ["", "a", "bb", "", "ccc\r", "ünï", "last"];
    const path = fixture("lines.txt", lines.join("\n"));
    for (const chunkSize of [1, 2, 5, 64]) {
      const seen: string[] = [];
      await forEachLine(path, (buf, start, end) => seen.push(buf.toString("utf8", start, end)), chunkSize);
      assert.deepEqual(
        seen,
        lines.map((line) => line.replace(/\r$/, "")),
      );
    }
  });
});

describe("bad input", () => {
  const header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n";
  const good = "1\t10\t4\t100\n";

  test("a non-numeric rating names file, line and value", async () => {
    const path = fixture("ml.inter", header + good.repeat(15) + "1\t10\tabc\t100\n");
    const error = await rejectsAt(readInteractions(path), path, 17, /^rating "abc" is not a number$/);
    assert.match(error.message, /ml\.inter:17: rating "abc" is not a number$/);
  });

  test("a non-numeric timestamp", async () => {
    const path = fixture("badtime.inter", header + good + "1\t10\t4\tyesterday\n");
    await rejectsAt(readInteractions(path), path, 3, /^timestamp "yesterday" is not a number$/);
  });

  for (const [cell, column] of [
    ["NaN\t100", "rating"],
    ["inf\t100", "rating"],
    ["4\tInfinity", "timestamp"],
    ["4\t1e999", "timestamp"],
  ] as const) {
    test(`non-finite ${column} ${cell.replace("\t", " ")}`, async () => {
      const path = fixture("nonfinite.inter", header + good + `1\t10\t${cell}\n`);
      await rejectsAt(readInteractions(path), path, 3, new RegExp(`^${column} ".*" is not finite$`));
    });
  }

  test("an empty rating cell", async () => {
    const path = fixture("emptycell.inter", header + "1\t10\t\t100\n");
    await rejectsAt(readInteractions(path), path, 2, /^rating "" is empty$/);
  });

  test("a row with the wrong number of fields", async () => {
    const path = fixture("short.inter", header + good + "1\t10\t4\n");
    await rejectsAt(readInteractions(path), path, 3, /expected 4 tab-separated fields but found 3/);
  });

  test("an unknown column in the mapping names the available columns", async () => {
    const path = fixture("cols.csv", "uid,iid,stars\n1,2,3\n");
    await rejectsAt(
      readInteractions(path, { columns: { user: "uid", item: "iid", value: "rating" } }),
      path,
      1,
      /unknown column "rating" for value; available columns: uid, iid, stars/,
    );
  });

  test("unknown key in a JSON lines mapping names the keys present", async () => {
    const path = fixture("keys.jsonl", '{"user": 1, "item": 2}\n');
    await rejectsAt(
      readInteractions(path, { columns: { timestamp: "time" } }),
      path,
      1,
      /unknown column "time" for timestamp; available columns: user, item/,
    );
  });

  test("no recognisable user column", async () => {
    const path = fixture("nouser.csv", "who,what\n1,2\n");
    await rejectsAt(
      readInteractions(path),
      path,
      1,
      /no user column found; set options.columns.user to one of: who, what/,
    );
  });

  test("an empty file", async () => {
    const path = fixture("empty.inter", "");
    await rejectsAt(readInteractions(path), path, 0, /^file is empty$/);
  });

  test("a header without rows", async () => {
    const path = fixture("headeronly.inter", header);
    await rejectsAt(readInteractions(path), path, 0, /^no rows \(empty or header only\)$/);
  });

  test("a comma-separated file read as TSV says which delimiter it seems to use", async () => {
    const withHeader = fixture("comma.tsv", "user,item,rating\n1,2,3\n");
    await rejectsAt(readInteractions(withHeader), withHeader, 1, /line 1 has 1; the file seems to be comma-separated/);
    const headerless = fixture("comma.data", "1,2,3,4\n5,6,7,8\n");
    await rejectsAt(
      readInteractions(headerless, { format: "movielens" }),
      headerless,
      1,
      /expected at least 2 tab-separated fields but line 1 has 1; the file seems to be comma-separated/,
    );
  });

  test("a single comma-separated row in a TSV says so too", async () => {
    const path = fixture("onebad.tsv", "user\titem\n1\t2\n3,4\n");
    await rejectsAt(readInteractions(path), path, 3, /found 1; the line seems to be comma-separated/);
  });

  test("an unknown type in a RecBole header", async () => {
    const path = fixture("types.inter", "user_id:token\titem_id:tokn\n1\t2\n");
    await rejectsAt(readInteractions(path), path, 1, /unknown type "tokn" in header cell "item_id:tokn"/);
  });

  test("an unknown event type", async () => {
    const path = fixture("events2.csv", "user,item,event\n1,2,view\n1,3,like\n");
    await rejectsAt(readInteractions(path), path, 3, /unknown event type "like" \(known: view, click, cart/);
  });

  test("an unterminated quote", async () => {
    const path = fixture("quote.csv", 'user,item\n"1,2\n');
    await rejectsAt(readInteractions(path), path, 2, /quote/);
  });

  test("invalid JSON", async () => {
    const path = fixture("broken.jsonl", '{"user": 1, "item": 2}\n{"user": 1,\n');
    await rejectsAt(readInteractions(path), path, 2, /^invalid JSON/);
  });
});

describe("lenient mode", () => {
  test("skips bad rows, counts them by reason and keeps the first examples", async () => {
    const path = fixture(
      "mixed.inter",
      "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" +
        "1\t10\t4\t100\n" +
        "2\t11\tabc\t100\n" +
        "3\t12\txyz\t100\n" +
        "4\t13\t4\n" +
        "5\t14\tNaN\t100\n" +
        "6\t\t3\t100\n" +
        "1\t15\t2\t200\n",
    );
    const { dataset, report } = await readInteractions(path, { lenient: true });
    assert.deepEqual(rows(dataset), [
      ["1", "10", 4, 100, "rating"],
      ["1", "15", 2, 200, "rating"],
    ]);
    // Rejected rows must not leave their ids behind.
    assert.deepEqual(dataset.users.toJSON(), ["1"]);
    assert.deepEqual(dataset.items.toJSON(), ["10", "15"]);
    assert.equal(report.skipped, 5);
    assert.deepEqual(
      report.reasons,
      new Map([
        ["rating is not a number", 2],
        ["wrong number of fields", 1],
        ["rating is not finite", 1],
        ["item id is empty", 1],
      ]),
    );
    assert.deepEqual(
      report.examples.map((e) => e.line),
      [3, 4, 5, 6, 7],
    );
  });

  test("still fails when no row is usable", async () => {
    const path = fixture("allbad.tsv", "user\titem\trating\n1\t2\tx\n");
    await rejectsAt(readInteractions(path, { lenient: true }), path, 0, /no valid rows \(1 skipped\)/);
  });

  test("still fails on a wrong delimiter, a file-level problem", async () => {
    const path = fixture("lenientcomma.tsv", "user,item\n1,2\n");
    await rejectsAt(readInteractions(path, { lenient: true }), path, 1, /comma-separated/);
  });

  test("strict mode returns the dataset itself", async () => {
    const path = fixture("strict.data", "1\t2\t3\t4\n");
    const dataset = await readInteractions(path, { format: "movielens", lenient: false });
    assert.equal(dataset.interactions.length, 1);
  });
});

describe("RecBole dataset directories", () => {
  test("reads .inter with .user and .item next to it, by directory or prefix", async () => {
    const datasetDir = join(dir, "tiny");
    rmSync(datasetDir, { recursive: true, force: true });
    mkdirSync(datasetDir);
    writeFileSync(join(datasetDir, "tiny.inter"), "user_id:token\titem_id:token\trating:float\nu1\ti1\t5\nu2\ti2\t3\n");
    writeFileSync(join(datasetDir, "tiny.user"), "user_id:token\tage:float\nu1\t20\nu2\t40\n");
    writeFileSync(join(datasetDir, "tiny.item"), "item_id:token\tgenre:token_seq\ni1\ta b\n");
    for (const location of [datasetDir, join(datasetDir, "tiny"), join(datasetDir, "tiny.inter")]) {
      const dataset = await readDataset(location);
      assert.equal(dataset.name, "tiny");
      assert.equal(dataset.interactions.length, 2);
      assert.deepEqual(Array.from(dataset.userFeatures!.numeric.age!.values), [-1, 1]);
      const genre = dataset.itemFeatures!.multi.genre!;
      assert.deepEqual(Array.from(genre.offsets), [0, 2, 3]);
      assert.deepEqual(Array.from(genre.ids), [1, 2, 0]);
    }
  });

  test("a directory without a single .inter file is an error", async () => {
    const emptyDir = mkdtempSync(join(dir, "none-"));
    await rejectsAt(readDataset(emptyDir), emptyDir, 0, /expected one .inter file in the directory, found none/);
  });
});

const ml100k = resolve(process.cwd(), "../shared/data/ml-100k");

describe("ml-100k", () => {
  test("loads interactions and side features", { skip: !existsSync(ml100k) && "ml-100k not present" }, async () => {
    const dataset = await readDataset(ml100k);
    assert.equal(dataset.name, "ml-100k");
    assert.equal(dataset.interactions.length, 100000);
    assert.equal(dataset.users.size, 943);
    assert.equal(dataset.items.size, 1682);
    const { values, timestamps } = dataset.interactions;
    assert.ok(values.every((v) => v >= 1 && v <= 5 && Number.isInteger(v)));
    assert.ok(timestamps.every((t) => t > 8.7e8 && t < 9e8));
    // First row of ml-100k.inter: 196 242 3 881250949.
    assert.deepEqual(rows(dataset)[0], ["196", "242", 3, 881250949, "rating"]);
    const genres = dataset.itemFeatures!.multi.class!;
    const toyStory = dataset.items.get("1")!;
    const names = Array.from(genres.ids.subarray(genres.offsets[toyStory], genres.offsets[toyStory + 1]!), (id) =>
      genres.vocab.external(id),
    );
    assert.deepEqual(names, ["Animation", "Children's", "Comedy"]);
    const age = dataset.userFeatures!.categorical.age!;
    assert.equal(age.vocab.external(age.ids[dataset.users.get("1")!]!), "24");
    assert.ok(
      age.ids.every((id) => id > 0),
      "every user has an age",
    );
  });
});
