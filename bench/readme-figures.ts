/**
 * `npm run docs:figures`: rewrite the figures regions of README.md and docs/*.md from bench/results (see
 * figures.ts). Regions whose result file is absent (flagship.json before `npm run bench:flagship`) are left
 * as they are, with a warning.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { figureDocuments, readSources, rewriteFigures } from "./figures.js";

// Run from dist/bench/; bench/common.ts's repoRoot would load the engine, which this script has no use for.
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const sources = readSources(join(repoRoot, "bench", "results"));
for (const document of figureDocuments(repoRoot)) {
  const path = join(repoRoot, document);
  const before = readFileSync(path, "utf8");
  const { text, left } = rewriteFigures(before, sources);
  for (const region of left) console.warn(`${document}: figures:${region} left as it is: its result file is absent`);
  if (text === before) continue;
  writeFileSync(path, text);
  console.log(`${document}: figures rewritten`);
}
