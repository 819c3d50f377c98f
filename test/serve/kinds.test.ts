// Model kinds other than the two-tower over real HTTP: a BPR-MF student is served through the vector index
// (neighbours included, but no cold items), a NeuMF, which does not factor, through its own scorer, a SASRec
// from each user's live sequence of events.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { NeuMF } from "../../src/models/neumf.js";
import { SASRec } from "../../src/models/sasrec.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingArtefact, servingContext } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-serve-kinds-"));
const TOKEN = "kinds-token";
const bprmf = new BPRMF({ dim: 6, seed: 4, initStd: 0.5 }, servingContext());
const neumf = new NeuMF({ gmfDim: 4, mlpSizes: [8, 4], seed: 5, initStd: 0.5 }, servingContext());
const sasrec = new SASRec({ dim: 8, blocks: 1, heads: 2, maxLength: 6, seed: 6 }, servingContext()).eval();
const bprmfDir = join(root, "bpr-mf");
const neumfDir = join(root, "neumf");
const sasrecDir = join(root, "sasrec");
saveServingArtefact(bprmfDir, bprmf);
saveServingArtefact(neumfDir, neumf);
saveServingArtefact(sasrecDir, sasrec);

interface Ranked {
  status: number;
  body: { items?: { id: string; score: number }[]; message?: string };
}

let mf: RunningServer;
let ncf: RunningServer;
let seq: RunningServer;

async function call(server: RunningServer, method: string, path: string, body?: unknown): Promise<Ranked> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Ranked["body"] };
}

const index = (id: string) => Number(id.slice(1));

/** Scores as the model computes them (within float32 rounding of the kernels). */
function assertScores(items: { id: string; score: number }[], expected: (item: number) => number): void {
  for (const { id, score } of items) {
    const want = expected(index(id));
    assert.ok(Math.abs(score - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${id}: ${score} vs ${want}`);
  }
  for (let r = 1; r < items.length; r++) assert.ok(items[r - 1]!.score >= items[r]!.score);
}

before(async () => {
  // Not about load: starting the second server blocks the first one's event loop, which a busy machine
  // can stretch past the shedding threshold.
  const limits = { shedding: false } as const;
  mf = await startServer({ model: bprmfDir, stateDir: join(root, "state-mf"), port: 0, token: TOKEN, limits });
  ncf = await startServer({ model: neumfDir, stateDir: join(root, "state-ncf"), port: 0, token: TOKEN, limits });
  seq = await startServer({ model: sasrecDir, stateDir: join(root, "state-seq"), port: 0, token: TOKEN, limits });
});
after(async () => {
  await mf.close();
  await ncf.close();
  await seq.close();
  rmSync(root, { recursive: true, force: true });
});

describe("serving a BPR-MF model", () => {
  const items = bprmf.itemEmbedding.weight.data;
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < 6; d++) s += items[a * 6 + d]! * items[b * 6 + d]!;
    return s;
  };

  test("similar items are the nearest item vectors by dot product, the item left out", async () => {
    const reply = await call(mf, "GET", "/v1/similar/i5?k=4");
    assert.equal(reply.status, 200);
    const got = reply.body.items!;
    assert.equal(got.length, 4);
    assert.ok(!got.some((i) => i.id === "i5"));
    assertScores(got, (i) => dot(5, i));
    const best = Array.from({ length: 40 }, (_, i) => i)
      .filter((i) => i !== 5)
      .sort((a, b) => dot(5, b) - dot(5, a))
      .slice(0, 4);
    assert.deepEqual(
      got.map((i) => index(i.id)),
      best,
    );
  });

  test("recommendations come from the index with the model's scores", async () => {
    const reply = await call(mf, "GET", "/v1/recommend/u3?k=5");
    assert.equal(reply.status, 200);
    const scores = bprmf.scorer().scoreAll({ user: 3 });
    assert.equal(reply.body.items!.length, 5);
    assertScores(reply.body.items!, (i) => scores[i]!);
  });

  test("a new item is stored but, without cold item vectors, neither scored nor a neighbour", async () => {
    const put = await call(mf, "PUT", "/v1/items", { items: [{ id: "fresh", features: { category: "c1" } }] });
    assert.equal(put.status, 200);
    const all = await call(mf, "GET", "/v1/recommend/u2?k=40&excludeSeen=false");
    assert.ok(!all.body.items!.some((i) => i.id === "fresh"));
    const similar = await call(mf, "GET", "/v1/similar/fresh?k=3");
    assert.equal(similar.status, 409);
    assert.match(String(similar.body.message), /bpr-mf model has no vectors for items added at run time/);
    const rank = await call(mf, "POST", "/v1/rank", { user: "u1", items: ["i1", "fresh"] });
    assert.equal(rank.status, 409);
    assert.match(String(rank.body.message), /bpr-mf model cannot score items added at run time/);
  });
});

describe("serving a NeuMF model (no item vectors)", () => {
  const scores = neumf.scorer().scoreAll({ user: 3 });

  test("recommendations score the catalogue with the model's scorer", async () => {
    const reply = await call(ncf, "GET", "/v1/recommend/u3?k=5");
    assert.equal(reply.status, 200);
    assert.equal(reply.body.items!.length, 5);
    assertScores(reply.body.items!, (i) => scores[i]!);
  });

  test("rank re-ranks a caller's candidates; neighbours are refused", async () => {
    const reply = await call(ncf, "POST", "/v1/rank", { user: "u3", items: ["i1", "i2", "i3", "i4"] });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.items!.map((i) => i.id).sort(), ["i1", "i2", "i3", "i4"]);
    assertScores(reply.body.items!, (i) => scores[i]!);
    const similar = await call(ncf, "GET", "/v1/similar/i5?k=3");
    assert.equal(similar.status, 409);
    assert.match(String(similar.body.message), /neumf model has no item vectors/);
  });
});

describe("serving a SASRec model (a user is their live sequence)", () => {
  const scorer = sasrec.scorer();
  const scoresOf = (history: number[]) => scorer.scoreAll({ user: 0, history: Int32Array.from(history) });

  test("each posted event changes the next answer through the sequence, as the model scores it", async () => {
    const post = (item: string, k: number) =>
      call(seq, "POST", "/v1/events", { events: [{ user: "walker", item, type: "view", timestamp: Date.now() + k }] });
    const seen: number[] = [];
    let previous: string[] = [];
    for (const [k, item] of [3, 17, 29, 8].entries()) {
      assert.equal((await post(`i${item}`, k)).status, 200);
      seen.push(item);
      const reply = await call(seq, "GET", "/v1/recommend/walker?k=5");
      assert.equal(reply.status, 200);
      const got = reply.body.items!;
      assertScores(got, (i) => scoresOf(seen)[i]!);
      const order = got.map((i) => i.id);
      assert.notDeepEqual(order, previous, `after event ${k}`);
      previous = order;
    }
    // The same items in another order are another sequence.
    assert.notDeepEqual(Array.from(scoresOf([8, 29, 17, 3])), Array.from(scoresOf(seen)));
  });
});
