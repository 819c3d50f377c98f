// Shared helpers for benchmarks: the commit, result files, tables, and the PyTorch peer.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { IdMap } from "../src/data/idmap.js";
import { saveArtefact } from "../src/models/artefact.js";
import { TwoTower } from "../src/models/two-tower.js";

/** The repository root (benchmarks run from dist/bench/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Target {
  name: string;
  measured: number;
  target: number;
  unit: string;
  met: boolean;
}

/** A target met when `measured >= target`. */
export function atLeast(name: string, measured: number, target: number, unit: string): Target {
  return { name, measured: round(measured), target, unit, met: measured >= target };
}

/** A target met when `measured <= target`. */
export function atMost(name: string, measured: number, target: number, unit: string): Target {
  return { name, measured: round(measured), target, unit, met: measured <= target };
}

export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x)) return x;
  const p = 10 ** Math.max(0, digits - Math.ceil(Math.log10(Math.abs(x) + 1e-12)));
  return Math.round(x * p) / p;
}

export function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Write bench/results/<name>.json with the commit, date, results and targets. */
export function writeResults(name: string, results: unknown, targets: Target[]): string {
  const path = join(repoRoot, "bench", "results", `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  const body = { bench: name, commit: gitCommit(), date: new Date().toISOString(), results, targets };
  writeFileSync(path, JSON.stringify(body, null, 2) + "\n");
  return path;
}

/** Print the targets as a table: name, measured, target, unit, met. */
export function printTargets(targets: readonly Target[]): void {
  printTable(
    ["target", "measured", "target", "unit", "met"],
    targets.map((t) => [t.name, t.measured, t.target, t.unit, t.met ? "yes" : "NO"]),
  );
}

/**
 * Save the two-tower model the HTTP benches serve (users `u0…`, items `i0…`, 20 recent items a user, int8
 * retrieval). Its weights are random: throughput, memory and errors do not depend on what it learned.
 */
export function saveLoadModel(dir: string, { users, items, dim }: { users: number; items: number; dim: number }): void {
  const offsets = Int32Array.from({ length: users + 1 }, (_, u) => 20 * u);
  const history = Int32Array.from({ length: 20 * users }, (_, k) => (k * 7919) % items);
  const context = { numUsers: users, numItems: items, histories: { offsets, items: history } };
  const model = new TwoTower({ dim, maxHistory: 20, seed: 1, retrieval: "int8" }, context);
  saveArtefact(dir, {
    model,
    users: IdMap.fromJSON(Array.from({ length: users }, (_, u) => `u${u}`)),
    items: IdMap.fromJSON(Array.from({ length: items }, (_, i) => `i${i}`)),
  });
}

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

/** meanSd as text: `0.xxxx ± 0.xxxx`. */
export function formatMeanSd(values: readonly number[]): string {
  const { mean, sd } = meanSd(values);
  return `${mean.toFixed(4)} ± ${sd.toFixed(4)}`;
}

/** A pipeline log for benches: every record a line on stderr, beside the tables on stdout. */
export const benchLog = {
  info: (fields: object, message?: string): void => console.error(`  ${message ?? ""} ${JSON.stringify(fields)}`),
  warn: (fields: object, message?: string): void =>
    console.error(`  warning: ${message ?? ""} ${JSON.stringify(fields)}`),
};

/** Print rows as an aligned text table. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: (string | number)[]): string =>
    r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join("  ");
  console.log(line(headers));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of cells.slice(1)) console.log(line(r));
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return x.toPrecision(3);
}

const PYTHON = "/usr/bin/python3";

/** Whether PyTorch is importable by the system Python (apt-get install python3-torch). */
export function torchAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

/** Which BLAS library PyTorch loaded, and the matmul speed it gives. */
export interface TorchBlas {
  /** The BLAS shared libraries mapped into the process after a matmul (e.g. openblas-pthread/libblas.so.3). */
  libraries: string[];
  /** A 1024×1024 f32 matmul's rate, GFLOPS (the reference BLAS gives ~6, OpenBLAS 100+). */
  gflops: number;
}

const BLAS_PROBE = `
import json, time, torch
a = torch.randn(1024, 1024); b = torch.randn(1024, 1024)
a @ b
t = time.perf_counter(); n = 10
for _ in range(n): a @ b
s = (time.perf_counter() - t) / n
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
print(json.dumps({"libraries": libs, "gflops": 2 * 1024 ** 3 / s / 1e9}))
`;

/**
 * Check and print which BLAS PyTorch uses: without OpenBLAS, Debian's torch falls back to the reference
 * BLAS and every ratio against it flatters us by an order of magnitude.
 */
export function torchBlas(): TorchBlas {
  const res = spawnSync(PYTHON, ["-c", BLAS_PROBE], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`the BLAS probe failed (${res.status}): ${res.stderr.slice(-2000)}`);
  const blas = JSON.parse(res.stdout.trim()) as TorchBlas;
  const names = blas.libraries.map((l) => l.split("/").slice(-2).join("/")).join(", ") || "none found";
  console.log(`  PyTorch BLAS: ${names}; 1024² f32 matmul ${blas.gflops.toFixed(0)} GFLOPS`);
  // The reference BLAS gives ~6 GFLOPS, OpenBLAS 100+ on an idle machine (less on a busy one).
  if (blas.gflops < 15) {
    console.log(
      "  WARNING: PyTorch runs on a slow BLAS (apt-get install -y libopenblas0-pthread): its times are not its best",
    );
  }
  return blas;
}

/** Run a Python peer script and parse the JSON object it prints (the whole output, or its last line). */
export function runPython(script: string, args: string[]): unknown {
  const res = spawnSync(PYTHON, [script, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (res.status !== 0) throw new Error(`${script} failed (${res.status}): ${res.stderr.slice(-2000)}`);
  const out = res.stdout.trim();
  try {
    return JSON.parse(out);
  } catch {
    return JSON.parse(out.split("\n").pop()!);
  }
}

/**
 * `distillrec serve <args>` as a child process with `token` as its DISTILLREC_TOKEN; resolves with its
 * address once its log says it listens (the info line with "url").
 */
export async function spawnServer(args: string[], token: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(repoRoot, "dist", "src", "cli", "main.js"), "serve", ...args], {
    env: { ...process.env, DISTILLREC_TOKEN: token },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the server exited with ${code} before listening`)));
  });
  return { child, url };
}
