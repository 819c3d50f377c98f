// The store never changes an id: well-formed Unicode (astral characters included) reads back the same
// after a reopen; a lone surrogate, which UTF-8 keys and values would turn into U+FFFD (another user's or
// item's id), is refused with the reason, over HTTP as a 400.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventStore, StoreInputError } from "../../src/serve/store.js";
import { startServer } from "../../src/serve/server.js";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-store-ids-"));
after(() => rmSync(root, { recursive: true, force: true }));

const WELL_FORMED = ["ü-ß", "emoji-\u{1F600}", "\u{10FFFF}", "\uFFFD"];
const LONE = ["a\uD800", "\uDC00b", "x\uDBFF\uDBFFy", "\uDE00\uD83D"];

describe("EventStore ids", () => {
  test("well-formed ids, astral characters included, read back unchanged after a reopen", async () => {
    const dir = join(root, "well-formed");
    let store = EventStore.open(dir);
    await store.append(WELL_FORMED.map((id, k) => ({ user: id, item: id, type: id, timestamp: k })));
    await store.upsertItems(WELL_FORMED.map((id) => ({ id, features: { [id]: [id] }, updatedAt: 1 })));
    await store.close();
    store = EventStore.open(dir);
    try {
      assert.deepEqual(
        [...store.events()].map((e) => [e.user, e.item, e.type]),
        WELL_FORMED.map((id) => [id, id, id]),
      );
      assert.deepEqual([...store.items()].map((i) => i.id).sort(), [...WELL_FORMED].sort());
      for (const id of WELL_FORMED) assert.deepEqual(store.item(id)?.features, { [id]: [id] });
    } finally {
      await store.close();
    }
  });

  test("a lone surrogate in any id or feature string is refused and nothing is written", async () => {
    const store = EventStore.open(join(root, "lone"));
    try {
      for (const id of LONE) {
        for (const field of ["user", "item", "type"] as const) {
          const event = { user: "u", item: "i", type: "click", timestamp: 1, [field]: id };
          await assert.rejects(
            store.append([{ user: "ok", item: "ok", type: "click", timestamp: 1 }, event]),
            (err: unknown) =>
              err instanceof StoreInputError &&
              new RegExp(`events\\[1\\]\\.${field} is not well-formed Unicode: a lone surrogate`).test(err.message),
          );
        }
        await assert.rejects(
          store.upsertItems([{ id, features: {}, updatedAt: 1 }]),
          /items\[0\]\.id is not well-formed/,
        );
        await assert.rejects(
          store.upsertItems([{ id: "i", features: { tags: ["ok", id] }, updatedAt: 1 }]),
          /items\[0\]\.features\.tags is not well-formed/,
        );
        await assert.rejects(
          store.upsertItems([{ id: "i", features: { [id]: "x" }, updatedAt: 1 }]),
          /a feature name is not well-formed/,
        );
      }
      assert.equal(store.count(), 0);
      assert.deepEqual([...store.items()], []);
    } finally {
      await store.close();
    }
  });

  test("looking up an ill-formed id never finds the item its U+FFFD form names", async () => {
    const store = EventStore.open(join(root, "lookup"));
    try {
      await store.upsertItems([{ id: "a\uFFFD", features: {}, updatedAt: 1 }]);
      assert.equal(store.item("a\uFFFD")?.id, "a\uFFFD");
      assert.equal(store.item("a\uD800"), undefined);
    } finally {
      await store.close();
    }
  });

  test("over HTTP an event with a lone surrogate id is a 400, and the user's events stay theirs", async () => {
    const model = join(root, "model");
    saveServingModel(model, 1);
    const server = await startServer({ model, stateDir: join(root, "http-state"), port: 0, token: "t" });
    try {
      const post = (user: string) =>
        fetch(`${server.url}/v1/events`, {
          method: "POST",
          headers: { authorization: "Bearer t", "content-type": "application/json" },
          // JSON.stringify escapes a lone surrogate as \ud800, which JSON.parse turns back into it.
          body: JSON.stringify({ events: [{ user, item: "i1", type: "click" }] }),
        });
      const refused = await post("victim\uD800");
      assert.equal(refused.status, 400);
      assert.equal(server.store.count(), 0);
      assert.equal((await post("victim\uFFFD")).status, 200);
      assert.deepEqual(
        [...server.store.events()].map((e) => e.user),
        ["victim\uFFFD"],
      );
    } finally {
      await server.close();
    }
  });
});
