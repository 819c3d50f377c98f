// RecBole dataset directories: <dir>/<name>.inter plus optional <name>.user and <name>.item side features.
import { existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { DataError, mergeReports } from "../errors.js";
import { readFeatures, type ReadFeaturesOptions } from "../features.js";
import type { Dataset } from "../types.js";
import { readInteractionsWithReport, type LenientRead, type ReadInteractionsOptions } from "./interactions.js";

export interface ReadDatasetOptions extends Omit<ReadInteractionsOptions, "format" | "users" | "items"> {
  /** Options for the .user / .item files (format, idColumn and lenient default from the dataset). */
  userFeatures?: ReadFeaturesOptions;
  itemFeatures?: ReadFeaturesOptions;
}

/**
 * Reads a RecBole dataset: `location` is a directory holding `<dirname>.inter` (or a single .inter file), or a path
 * prefix such that `<prefix>.inter` exists. `.user` / `.item` files next to it become userFeatures / itemFeatures.
 */
export function readDataset(location: string, options: ReadDatasetOptions & { lenient: true }): Promise<LenientRead>;
export function readDataset(location: string, options?: ReadDatasetOptions & { lenient?: false }): Promise<Dataset>;
export function readDataset(location: string, options?: ReadDatasetOptions): Promise<Dataset | LenientRead>;
export async function readDataset(location: string, options: ReadDatasetOptions = {}): Promise<Dataset | LenientRead> {
  const prefix = await datasetPrefix(location);
  const name = options.name ?? basename(prefix);
  const { userFeatures, itemFeatures, ...interactionOptions } = options;
  const { dataset, report } = await readInteractionsWithReport(`${prefix}.inter`, {
    ...interactionOptions,
    format: "recbole",
    name,
  });
  const reports = [report];
  const features = async (suffix: "user" | "item", featureOptions: ReadFeaturesOptions = {}) => {
    const path = `${prefix}.${suffix}`;
    if (!existsSync(path)) return undefined;
    const idColumn = options.columns?.[suffix];
    const read = await readFeatures(path, suffix === "user" ? dataset.users : dataset.items, {
      idColumn: typeof idColumn === "string" ? idColumn : undefined,
      lenient: options.lenient,
      chunkSize: options.chunkSize,
      ...featureOptions,
    });
    reports.push(read.report);
    return read.table;
  };
  const result: Dataset = {
    ...dataset,
    userFeatures: await features("user", userFeatures),
    itemFeatures: await features("item", itemFeatures),
  };
  return options.lenient ? { dataset: result, report: mergeReports(reports) } : result;
}

/** `<dir>/<name>` for a dataset directory, or the prefix itself (a trailing ".inter" is dropped). */
async function datasetPrefix(location: string): Promise<string> {
  if (!existsSync(location) || !statSync(location).isDirectory()) return location.replace(/\.inter$/, "");
  const named = join(location, basename(location));
  if (existsSync(`${named}.inter`)) return named;
  const inter = (await readdir(location)).filter((file) => file.endsWith(".inter"));
  if (inter.length === 1) return join(location, inter[0]!.slice(0, -".inter".length));
  const found = inter.length === 0 ? "none" : inter.join(", ");
  throw new DataError(location, 0, `expected one .inter file in the directory, found ${found}`, "no dataset");
}
