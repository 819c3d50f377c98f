/**
 * `distillrec demo-browser`: serve the example page (examples/browser/), the browser bundle, the kernels
 * and a student's web form on 127.0.0.1 — the given artefact, or a small two-tower trained on the
 * synthetic shop in a few seconds. Pages are cross-origin isolated (COOP/COEP): the kernels use shared memory.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { exportWeb, type WebStudent } from "../../interop/web-export.js";
import { loadArtefact } from "../../models/artefact.js";
import { loadData, prepareData } from "../../run/data.js";
import { trainModel } from "../../run/training.js";
import { positiveInt, UsageError } from "./common.js";

const ROOT = new URL("../../../../", import.meta.url);

/** The web form of the artefact at `dir`, or of a small two-tower student trained on the synthetic shop. */
export async function demoStudent(dir?: string): Promise<WebStudent> {
  if (dir) {
    const { model, users, items, manifest } = loadArtefact(dir);
    return exportWeb(model, { users, items }, manifest.id);
  }
  const prepared = prepareData(await loadData({ kind: "synthetic", synthetic: { users: 800, items: 400 } }, 1));
  const result = await trainModel(
    prepared,
    { kind: "two-tower", dim: 16, maxHistory: 20, seed: 1 },
    { epochs: 3, batchSize: 512, lr: 0.01, optimizer: "adam", patience: 3 },
    {
      name: "demo",
      seed: 1,
      threads: 1,
      evaluation: { negatives: 50, validationNegatives: 20, ks: [10], fullRanking: false },
    },
  );
  return exportWeb(result.model, { users: prepared.dataset.users, items: prepared.dataset.items });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".bin": "application/octet-stream",
};

/** Serve the page and `student` on host:port (0: any free port); resolves with its URL once listening. */
export async function startDemoServer(
  student: WebStudent,
  options: { host?: string; port?: number } = {},
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const file = (path: string) => fileURLToPath(new URL(path, ROOT));
  const bundle = file("dist/browser/distillrec.js");
  if (!existsSync(bundle)) throw new UsageError(`demo-browser: ${bundle} is missing: run npm run build`);
  const routes: Record<string, () => Uint8Array | string> = {
    "/": () => readFileSync(file("examples/browser/index.html")),
    "/index.html": () => readFileSync(file("examples/browser/index.html")),
    "/app.js": () => readFileSync(file("examples/browser/app.js")),
    "/distillrec.js": () => readFileSync(bundle),
    "/kernels.wasm": () => readFileSync(file("dist/kernels.wasm")),
    "/model/model.json": () => JSON.stringify(student.manifest),
    "/model/tables.bin": () => student.tables,
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route = routes[path];
    // Cross-origin isolation, so the page may create shared WebAssembly memory.
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    if (!route || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const ext = path === "/" ? ".html" : path.slice(path.lastIndexOf("."));
    res.writeHead(200, { "content-type": TYPES[ext] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(route());
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function demoBrowserCommand(): Command {
  return new Command("demo-browser")
    .description("serve the example page with a student running in the browser (WebAssembly) on 127.0.0.1")
    .option(
      "--model <dir>",
      "a bpr-mf or two-tower student artefact (default: train a small one on the synthetic shop)",
    )
    .option("--port <n>", "port (default 8090)", positiveInt, 8090)
    .action(async (opts: { model?: string; port: number }) => {
      const student = await demoStudent(opts.model);
      const { url } = await startDemoServer(student, { port: opts.port });
      console.log(`distillrec demo: open ${url} (${student.manifest.bytes} model bytes; Ctrl-C to stop)`);
    });
}
