// Online learning inside the server: the worker learns from stored events, its published students are
// swapped in while requests keep succeeding, decisions and progress show in /metrics, and a restart
// resumes from the last published student.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { IdMap } from "../../src/data/idmap.js";
import { readManifest, saveArtefact } from "../../src/models/artefact.js";
import { createModel } from "../../src/models/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { onlineLearning } from "../../src/online/serve.js";
import { ITEMS, saveServingModel, servingContext, USERS } from "../helpers/serving.js";

const TOKEN = "online-secret";

async function call(server: RunningServer, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

/** Poll until `check` holds (the worker runs on its own thread), failing after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting for the online learner");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Users u0… (and new ones) repeatedly taking items i0…i3 and a brand-new item. */
function events(n: number, offset: number) {
  return Array.from({ length: n }, (_, k) => ({
    user: (offset + k) % 7 === 0 ? `new-user-${(offset + k) % 11}` : `u${(offset + k) % USERS}`,
    item: (offset + k) % 5 === 0 ? "fresh-item" : `i${(offset + k) % 4}`,
    type: "click",
    timestamp: 1_700_000_000_000 + offset + k,
  }));
}

describe("serve --online", () => {
  let root: string;
  let model: string;
  let server: RunningServer;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "distillrec-online-serve-"));
    model = join(root, "student");
    saveServingModel(model, 1);
    server = await startServer({
      model,
      stateDir: join(root, "state"),
      port: 0,
      token: TOKEN,
      learner: onlineLearning({ teacher: false, publishEvery: 300, batch: 64, loop: { gate: { holdout: 50 } } }),
    });
  });

  after(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test("learns from stored events and swaps its students in while every request succeeds", async () => {
    const first = server.registry.current.model.version;
    const statuses: number[] = [];
    let stop = false;
    const readers = Array.from({ length: 4 }, async (_, r) => {
      for (let k = 0; !stop; k++) {
        statuses.push((await call(server, "GET", `/v1/recommend/u${(r * 7 + k) % USERS}?k=5`)).status);
      }
    });
    for (let b = 0; b < 8; b++) {
      const reply = await call(server, "POST", "/v1/events", { events: events(100, b * 100) });
      assert.equal(reply.status, 200, reply.text);
    }
    await until(() => server.registry.current.model.version !== first);
    stop = true;
    await Promise.all(readers);
    assert.ok(statuses.length > 0);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    // The published student knows the ids the stream brought.
    const served = readManifest(server.registry.current.model.dir);
    assert.equal(typeof served.lineage.onlineSeq, "number");
    assert.ok(
      server.registry.current.model.catalogue.ids.get("fresh-item")! < server.registry.current.model.modelItems,
    );
    const metrics = (await call(server, "GET", "/metrics")).text;
    const learned = Number(/distillrec_online_events_learned_total (\d+)/.exec(metrics)?.[1]);
    assert.ok(learned >= 300, `learned ${learned}`);
    assert.match(metrics, /distillrec_online_publishes_total\{reason="incremental",result="ok"\} [1-9]/);
    assert.match(metrics, /distillrec_model_swaps_total\{action="online",result="ok"\} [1-9]/);
  });

  test("the dashboard shows online learning: its state and windows of prequential HR@10 and NDCG@10", async () => {
    await until(async () => {
      const status = JSON.parse((await call(server, "GET", "/dashboard/api/status")).text);
      return status.online.windows.length > 0;
    });
    const { online } = JSON.parse((await call(server, "GET", "/dashboard/api/status")).text) as {
      online: { state: string; learned: number; windows: { at: number; events: number; hr: number; ndcg: number }[] };
    };
    assert.equal(online.state, "idle");
    assert.ok(online.learned >= 300);
    for (const w of online.windows) {
      assert.ok(w.events >= 64 && w.at <= online.learned, JSON.stringify(w));
      assert.ok(w.ndcg >= 0 && w.ndcg <= w.hr && w.hr <= 1, JSON.stringify(w));
    }
    const at = online.windows.map((w) => w.at);
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
      "in stream order",
    );
  });

  test("a restart serves the last published student and learns only what it had not", async () => {
    await until(() => server.learner!.error === undefined);
    const version = server.registry.current.model.version;
    const seq = readManifest(server.registry.current.model.dir).lineage.onlineSeq as number;
    await server.close();
    server = await startServer({
      model,
      stateDir: join(root, "state"),
      port: 0,
      token: TOKEN,
      learner: onlineLearning({ teacher: false, publishEvery: 300, batch: 64 }),
    });
    assert.equal(server.registry.current.model.version, version);
    const stored = server.store.count();
    assert.ok(stored > seq + 1, "some events came after the last published student");
    await until(async () => {
      const metrics = (await call(server, "GET", "/metrics")).text;
      return Number(/distillrec_online_events_learned_total (\d+)/.exec(metrics)?.[1]) === stored - (seq + 1);
    });
  });

  test("a teacher that cannot learn online stops the server from starting, with the reason", async () => {
    const neumf = join(root, "neumf");
    saveArtefact(neumf, {
      model: createModel({ kind: "neumf", gmfDim: 4, mlpSizes: [8, 4] }, servingContext()),
      users: IdMap.fromJSON(Array.from({ length: USERS }, (_, u) => `u${u}`)),
      items: IdMap.fromJSON(Array.from({ length: ITEMS }, (_, i) => `i${i}`)),
    });
    await assert.rejects(
      startServer({ model, stateDir: join(root, "state-bad"), port: 0, learner: onlineLearning({ teacher: neumf }) }),
      /online learning cannot start: online learning needs a dot-product model \(user and item vectors\), not neumf/,
    );
  });
});
