// The dashboard's data over HTTP: behind the token when the server has one, the serving model with its
// lineage and teacher, the run's report (found from the artefact's place, named by no path), the
// catalogue and popular items, the traffic samples, a user's history, and the page's own files.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { ITEMS, saveServingModel } from "../helpers/serving.js";
import { makeRunDir, REPORT_TEXT, RUN, type RunDir } from "./fixtures/run-dir.js";

const TOKEN = "dash-token";
const root = mkdtempSync(join(tmpdir(), "distillrec-dash-"));
let run: RunDir;
/** Not about load: on a machine busy with other work these requests must not be shed. */
const limits = { shedding: false } as const;
let server: RunningServer;

async function get(path: string, token: string | null = TOKEN): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text() };
}

/** The parts of /dashboard/api/status these tests read. */
interface Status {
  model: {
    version: string;
    kind: string;
    name: string | null;
    parameters: number;
    fileBytes: number;
    lineage: Record<string, unknown>;
    teacher: { version: string; parameters: number } | null;
  };
  previous: string | null;
  report: unknown;
  online: unknown;
  catalogue: unknown;
  popular: { id: string; score: number }[];
  events: number;
}

async function status(): Promise<Status> {
  const { status, text } = await get("/dashboard/api/status");
  assert.equal(status, 200, text);
  return JSON.parse(text) as Status;
}

before(async () => {
  run = makeRunDir(join(root, "run"));
  server = await startServer({ model: run.student, stateDir: join(root, "state"), port: 0, token: TOKEN, limits });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

describe("dashboard data", () => {
  test("behind the token; the session endpoint says so without it", async () => {
    assert.equal((await get("/dashboard/api/status", null)).status, 401);
    assert.equal((await get("/dashboard/api/status", "wrong")).status, 401);
    assert.equal((await get("/dashboard/api/users/u1", null)).status, 401);
    assert.equal((await get("/dashboard/report", null)).status, 401);
    assert.deepEqual(JSON.parse((await get("/dashboard/api/session", null)).text), { token: "required" });
  });

  test("the serving model, its lineage and its teacher; no server path in the answer", async () => {
    const s = await status();
    assert.equal(s.model.version, run.studentVersion);
    assert.equal(s.model.kind, "two-tower");
    assert.equal(s.model.name, "student");
    assert.deepEqual(s.model.lineage, {
      role: "distilled",
      method: "listwise",
      teacher: run.teacherVersion,
      run: RUN,
      dataset: "serving",
    });
    assert.equal(s.model.teacher!.version, run.teacherVersion);
    assert.ok(s.model.teacher!.parameters > s.model.parameters, "the teacher is the larger model");
    assert.ok(s.model.fileBytes > 0);
    assert.deepEqual(s.report, { run: RUN, url: "/dashboard/report" });
    assert.equal(s.previous, null);
    assert.equal(s.online, null);
    const text = JSON.stringify(s);
    assert.ok(!text.includes(root), "no server path");
  });

  test("the catalogue, popular items and a user's history", async () => {
    const s = await status();
    assert.deepEqual(s.catalogue, { items: ITEMS, modelItems: ITEMS, attributes: ["category"] });
    assert.equal(s.popular.length, 10);
    for (let k = 1; k < s.popular.length; k++) assert.ok(s.popular[k - 1]!.score >= s.popular[k]!.score);

    const events = [0, 1, 2].map((k) => ({ user: "newcomer", item: `i${k}`, type: "view", timestamp: Date.now() + k }));
    const stored = await fetch(`${server.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ events }),
    });
    assert.equal(stored.status, 200);
    const user = JSON.parse((await get("/dashboard/api/users/newcomer")).text);
    assert.deepEqual(user, {
      user: "newcomer",
      model: run.studentVersion,
      known: false,
      events: 3,
      history: ["i0", "i1", "i2"],
    });
    const known = JSON.parse((await get("/dashboard/api/users/u1")).text);
    assert.equal(known.known, true);
    assert.ok(known.history.length > 0, "a known user's training history");
    assert.equal((await status()).events, 3);
  });

  test("the run's report", async () => {
    const report = await get("/dashboard/report");
    assert.equal(report.status, 200);
    assert.match(report.text, new RegExp(REPORT_TEXT));
  });

  test("the page, its assets and the chart bundles are served; nothing else from those directories", async () => {
    const page = await get("/dashboard", null);
    assert.equal(page.status, 200);
    for (const src of page.text.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)) {
      assert.equal((await get(src[1]!, null)).status, 200, src[1]);
    }
    assert.equal((await get("/dashboard/assets/dashboard.html", null)).status, 404);
    assert.equal((await get("/dashboard/vendor/vega.js", null)).status, 404);
    assert.equal((await get("/dashboard/vendor/../../package.json", null)).status, 404);
  });
});

describe("dashboard without a token, of a model from no run", () => {
  test("the data is open; there is no report, and the 404 says why", async () => {
    const lone = join(root, "lone");
    const version = saveServingModel(lone, 5);
    const open = await startServer({ model: lone, stateDir: join(root, "state-open"), port: 0, limits });
    try {
      const session = await fetch(`${open.url}/dashboard/api/session`);
      assert.deepEqual(await session.json(), { token: "none" });
      const s = await fetch(`${open.url}/dashboard/api/status`);
      assert.equal(s.status, 200);
      const body = (await s.json()) as { model: { version: string; teacher: unknown }; report: unknown };
      assert.equal(body.model.version, version);
      assert.equal(body.model.teacher, null);
      assert.equal(body.report, null);
      const report = await fetch(`${open.url}/dashboard/report`);
      assert.equal(report.status, 404);
      assert.match(((await report.json()) as { message: string }).message, /names no pipeline run/);
    } finally {
      await open.close();
    }
  });
});
