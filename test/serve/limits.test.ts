// What clients can hold of the server: stalled and trickled requests are cut off by the timeouts while
// /healthz keeps answering, connections beyond the cap are refused, overload is shed (health routes
// excepted) and rate limits, when set, count per client with the token holder as one.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS, type ServeLimits } from "../../src/serve/app.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-limits-"));
const model = join(root, "model");
saveServingModel(model, 1);
const TOKEN = "limits-token";
after(() => rmSync(root, { recursive: true, force: true }));

let servers = 0;
async function serve(limits?: ServeLimits): Promise<RunningServer> {
  return startServer({
    model,
    stateDir: join(root, `state-${servers++}`),
    port: 0,
    token: TOKEN,
    ...(limits ? { limits } : {}),
  });
}

/** A raw connection that sends `text` and then nothing; `closed` resolves with all the server said. */
function stalled(url: string, text: string): { socket: Socket; closed: Promise<string>; open: () => boolean } {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let received = "";
  let open = true;
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (received += chunk));
  // A reset from the server is as good a close as an end.
  socket.on("error", () => {});
  socket.once("connect", () => socket.write(text));
  const closed = new Promise<string>((resolve) =>
    socket.once("close", () => {
      open = false;
      resolve(received);
    }),
  );
  return { socket, closed, open: () => open };
}

const connected = (socket: Socket) =>
  new Promise<void>((resolve, reject) => {
    if (!socket.connecting) return resolve();
    socket.once("connect", () => resolve());
    socket.once("close", () => reject(new Error("closed before connecting")));
  });

const postHead = (length: number) =>
  "POST /v1/events HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n" +
  `authorization: Bearer ${TOKEN}\r\ncontent-length: ${length}\r\n\r\n`;

// A timeout that did not fire would hang the test: fail it instead, long after the server's should have.
const hang = { timeout: 60_000 };

describe("serving: timeouts", () => {
  test("the defaults bound every phase of a request and the connections", async () => {
    const server = await serve();
    try {
      const http = server.app.server;
      assert.equal(http.requestTimeout, DEFAULT_LIMITS.requestTimeout);
      assert.equal(http.headersTimeout, DEFAULT_LIMITS.headersTimeout);
      assert.equal(http.keepAliveTimeout, DEFAULT_LIMITS.keepAliveTimeout);
      assert.equal(http.timeout, DEFAULT_LIMITS.socketTimeout);
      assert.equal(http.maxConnections, DEFAULT_LIMITS.maxConnections);
    } finally {
      await server.close();
    }
    await assert.rejects(serve({ requestTimeout: 0 }), /limits\.requestTimeout must be an integer > 0/);
    // An option given as undefined (a CLI flag not passed) keeps its default.
    const unset = await serve({ requestTimeout: undefined, shedding: { maxEventLoopDelay: undefined } });
    try {
      assert.equal(unset.app.server.requestTimeout, DEFAULT_LIMITS.requestTimeout);
    } finally {
      await unset.close();
    }
  });

  test("1000 stalled clients: /healthz answers meanwhile, and the timeout closes every one of them", hang, async () => {
    const server = await serve({ requestTimeout: 3000, headersTimeout: 2000 });
    try {
      // Half send headers and one byte of a 100-byte body, half stop in the middle of the headers.
      const clients = Array.from({ length: 1000 }, (_, k) =>
        stalled(server.url, k % 2 ? `${postHead(100)}{` : "GET /v1/recommend/u1 HTTP/1.1\r\nHost: x\r\n"),
      );
      await Promise.all(clients.map((c) => connected(c.socket)));
      const health = await fetch(`${server.url}/healthz`);
      const stillOpen = clients.filter((c) => c.open()).length;
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      assert.ok(stillOpen > 0, "/healthz answered while stalled clients held their connections");

      const answers = await Promise.all(clients.map((c) => c.closed));
      // A stalled body is told why; a half-sent head may simply be dropped.
      answers.forEach((answer, k) => {
        if (k % 2) assert.match(answer, /^HTTP\/1\.1 408/, `client ${k}`);
      });
      assert.equal(server.store.count(), 0, "no stalled body was taken for events");
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });

  test("a body trickled a byte at a time is cut off by the request timeout however steady it is", hang, async () => {
    const server = await serve({ requestTimeout: 1500, headersTimeout: 1000 });
    try {
      const client = stalled(server.url, postHead(1000));
      await connected(client.socket);
      let sent = 0;
      const trickle = setInterval(() => {
        if (client.open()) client.socket.write(sent++ === 0 ? "{" : " ");
      }, 100);
      const answer = await client.closed;
      clearInterval(trickle);
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.ok(sent < 1000, `closed after ${sent} of 1000 bytes`);
    } finally {
      await server.close();
    }
  });

  test(
    "connections beyond the cap are closed at once; the server answers again once the stalled ones time out",
    hang,
    async () => {
      const server = await serve({ maxConnections: 20, requestTimeout: 1500, headersTimeout: 1000 });
      try {
        const holders = Array.from({ length: 20 }, () => stalled(server.url, `${postHead(10)}{`));
        await Promise.all(holders.map((c) => connected(c.socket)));
        // Let the server accept all twenty before the next one knocks.
        while (
          ((await new Promise((resolve) => server.app.server.getConnections((_, n) => resolve(n)))) as number) < 20
        )
          await new Promise((resolve) => setTimeout(resolve, 10));
        const extra = stalled(server.url, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.equal(await extra.closed, "", "the connection over the cap got no answer");
        await Promise.all(holders.map((c) => c.closed));
        assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      } finally {
        await server.close();
      }
    },
  );
});

describe("serving: load shedding and rate limits", () => {
  test("under pressure every route but the health ones answers 503 with the reason and Retry-After", async () => {
    // Any heap is over one byte: the server is under pressure from its first sample (every second) on.
    const server = await serve({ shedding: { maxHeapUsedBytes: 1 } });
    try {
      let shed = await server.app.inject({ url: "/v1/recommend/u1" });
      for (let tries = 0; shed.statusCode === 200 && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        shed = await server.app.inject({ url: "/v1/recommend/u1" });
      }
      assert.equal(shed.statusCode, 503);
      assert.match(shed.json<{ message: string }>().message, /overloaded \(heapUsedBytes \d+\); retry later/);
      assert.ok(Number(shed.headers["retry-after"]) > 0);
      for (const url of ["/healthz", "/readyz", "/metrics"])
        assert.equal((await server.app.inject({ url })).statusCode, 200, url);
    } finally {
      await server.close();
    }
  });

  test("rate limits count anonymous clients by address and the token holder as one; health is exempt", async () => {
    const server = await serve({ rateLimit: { max: 3, timeWindow: 60_000 } });
    const get = (url: string, token?: string) =>
      fetch(`${server.url}${url}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    try {
      for (let k = 0; k < 3; k++) assert.equal((await get("/v1/recommend/u1")).status, 200);
      const limited = await get("/v1/recommend/u1");
      assert.equal(limited.status, 429);
      assert.match(((await limited.json()) as { message: string }).message, /rate limit/i);
      // A made-up token does not buy a fresh budget; the real one has its own.
      assert.equal((await get("/v1/recommend/u1", "made-up")).status, 429);
      assert.equal((await get("/v1/recommend/u1", TOKEN)).status, 200);
      for (let k = 0; k < 5; k++) assert.equal((await get("/healthz")).status, 200);
    } finally {
      await server.close();
    }
  });

  test("rate limits are off unless configured", async () => {
    const server = await serve();
    try {
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => server.app.inject({ url: "/v1/recommend/u1" })),
      );
      assert.ok(replies.every((r) => r.statusCode === 200));
      assert.equal(replies[0]!.headers["x-ratelimit-limit"], undefined);
    } finally {
      await server.close();
    }
  });
});
