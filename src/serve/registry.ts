/**
 * Which model version answers: a deployment is a verified artefact made ready to serve — its catalogue
 * with every item added at run time, and every user's recent items and the items' popularity rebuilt
 * from the durable event log. A swap builds the new deployment completely before it replaces the current
 * one in a single assignment, so a request in flight finishes on the version it started with; a refused
 * artefact leaves the current version serving; a rollback returns to the previous one.
 *
 * Every change of version is recorded durably (the record file, written atomically and synced) before it is
 * acknowledged, and a restart resumes the recorded version (unless it starts with another artefact than
 * when it was recorded: a new deployment); an artefact that no longer verifies is skipped with a warning for
 * the next candidate.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { writeFileAtomic } from "../engine/container.js";
import { countOccurrences } from "../eval/protocol.js";
import { loadArtefact, readManifest } from "../models/artefact.js";
import { ServingModel, type IndexFactory } from "./model.js";
import { Popularity, UserState, type ResolvedEvent } from "./state.js";
import type { FeedbackEvent, FeedbackStore } from "./store.js";

export interface Deployment {
  model: ServingModel;
  state: UserState;
  popularity: Popularity;
  /** The sequence number of the last stored event applied (-1: none). */
  appliedSeq: number;
}

export interface RegistryOptions {
  store: FeedbackStore;
  indexFactory: IndexFactory;
  /** Half-life of the popularity fallback's decay, ms of event time (default one day). */
  popularityHalfLifeMs?: number;
  /** The directory clients may swap artefacts in from (src/serve/models-dir.ts). */
  modelsDir: string;
  /** Called whenever another version starts serving. */
  onServe?: (model: ServingModel) => void;
  /**
   * The file recording the version serving (a JSON ServingRecord): written before a swap or rollback is
   * acknowledged; at start its artefact is tried before the candidates. Without it nothing is recorded.
   */
  record?: string;
  /** Told of every artefact skipped at start, and why (the next candidate is tried). */
  onSkip?: (dir: string, reason: string) => void;
}

/** What the record file holds: the artefact serving and its version (a different artefact there is skipped). */
export interface ServingRecord {
  dir: string;
  version: string;
  /**
   * The version of the artefact the server was started with (the last candidate) when this was recorded:
   * started with another one, the operator deployed something new, and the record is not resumed.
   */
  startVersion: string;
}

export class ModelRegistry {
  private active: Deployment;
  private previous: Deployment | undefined;
  /** The version of the last candidate (the artefact the server was started with), if its manifest reads. */
  private readonly startVersion: string | undefined;

  /**
   * Serve the recorded version if it still verifies, else the first of `candidates` (in order of preference)
   * that does; throws the last candidate's refusal when none does.
   */
  constructor(
    candidates: string | readonly string[],
    private readonly options: RegistryOptions,
  ) {
    const list = typeof candidates === "string" ? [candidates] : candidates;
    this.startVersion = manifestId(list[list.length - 1]);
    this.active = this.deployFirst(list);
    options.onServe?.(this.active.model);
  }

  /** The directory clients may swap artefacts in from. */
  get modelsDir(): string {
    return this.options.modelsDir;
  }

  /** The deployment answering now; take it once per request and use it throughout. */
  get current(): Deployment {
    return this.active;
  }

  /** The version a rollback returns to. */
  get previousVersion(): string | undefined {
    return this.previous?.model.version;
  }

  /** Where the version a rollback returns to was loaded from. */
  get previousDir(): string | undefined {
    return this.previous?.model.dir;
  }

  /** Apply stored events (in sequence order) to the current deployment's user states and popularity. */
  apply(events: readonly (FeedbackEvent & { seq: number })[]): { unknownItems: number } {
    return applyEvents(this.active, events);
  }

  /** Serve the artefact at `dir` from now on; throws (the current version keeps serving) if it is refused. */
  swap(dir: string): { from: string; to: string } {
    const next = this.deploy(dir);
    return this.replace(next);
  }

  /** Serve the previous version again (with every event stored since it was replaced). */
  rollback(): { from: string; to: string } {
    if (!this.previous) throw new NoPreviousVersionError();
    const back = this.previous;
    applyEvents(back, this.options.store.events(back.appliedSeq + 1));
    return this.replace(back);
  }

  /** Release every deployment's memory. */
  close(): void {
    this.previous?.model.dispose();
    this.active.model.dispose();
  }

  private replace(next: Deployment): { from: string; to: string } {
    const from = this.active.model.version;
    // Recorded before the caller can acknowledge it: a crash from here on restarts on `next`.
    if (this.options.record) {
      try {
        writeRecord(this.options.record, {
          dir: next.model.dir,
          version: next.model.version,
          startVersion: this.startVersion ?? "",
        });
      } catch (err) {
        if (next !== this.previous) next.model.dispose();
        // The reason reaches clients: its code, not the state directory's path.
        const code = (err as NodeJS.ErrnoException).code ?? "write failed";
        throw new Error(`the new version could not be recorded, so it does not serve (${code})`, { cause: err });
      }
    }
    const retired = this.previous;
    this.previous = this.active;
    this.active = next;
    if (retired && retired !== next) retired.model.dispose();
    this.options.onServe?.(next.model);
    return { from, to: next.model.version };
  }

  private deployFirst(candidates: readonly string[]): Deployment {
    const { record, onSkip } = this.options;
    let recorded = record ? readRecord(record, onSkip) : undefined;
    if (recorded && this.startVersion !== undefined && recorded.startVersion !== this.startVersion) {
      onSkip?.(
        recorded.dir,
        `recorded while the server started with version ${recorded.startVersion}; it now starts with ${this.startVersion}`,
      );
      recorded = undefined;
    }
    const tries: { dir: string; version?: string }[] = [
      ...(recorded ? [recorded] : []),
      ...candidates.map((dir) => ({ dir })),
    ];
    // A refusal is reported once another artefact is tried, and thrown when none is left; a refused
    // directory is not tried twice.
    const refused = new Set<string>();
    let skipped: { dir: string; error: Error } | undefined;
    for (const { dir, version } of tries) {
      if (refused.has(resolve(dir))) continue;
      if (skipped) onSkip?.(skipped.dir, skipped.error.message);
      let deployment: Deployment;
      try {
        deployment = this.deploy(dir);
      } catch (err) {
        refused.add(resolve(dir));
        skipped = { dir, error: err as Error };
        continue;
      }
      if (version === undefined || deployment.model.version === version) return deployment;
      deployment.model.dispose();
      skipped = { dir, error: new Error(`it holds version ${deployment.model.version}, not the recorded ${version}`) };
    }
    throw skipped?.error ?? new Error("ModelRegistry: no artefact to serve");
  }

  /** Load, verify and prepare an artefact, replaying the store's catalogue changes and events into it. */
  private deploy(dir: string): Deployment {
    const artefact = loadArtefact(resolve(dir));
    const model = new ServingModel(artefact, resolve(dir), this.options.indexFactory);
    for (const item of this.options.store.items()) model.upsertItem(item.id, item.features);
    const context = artefact.model.context;
    const histories = context.histories;
    const state = new UserState(artefact.model.historyLength, artefact.users, (userIndex) =>
      userIndex === undefined || !histories
        ? new Int32Array(0)
        : histories.items.slice(histories.offsets[userIndex], histories.offsets[userIndex + 1]),
    );
    // Until live events arrive, the items in users' recent histories stand for popularity.
    const seed = countOccurrences(histories?.items ?? new Int32Array(0), model.catalogue.size);
    const popularity = new Popularity(seed, { halfLifeMs: this.options.popularityHalfLifeMs ?? 86_400_000 });
    const deployment: Deployment = { model, state, popularity, appliedSeq: -1 };
    applyEvents(deployment, this.options.store.events(0));
    return deployment;
  }
}

/** The record at `path`, if there is one that reads; a damaged one is reported and ignored. */
function readRecord(path: string, onSkip: RegistryOptions["onSkip"]): ServingRecord | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const record = JSON.parse(readFileSync(path, "utf8")) as Partial<ServingRecord>;
    const { dir, version, startVersion } = record;
    if (typeof dir === "string" && typeof version === "string" && typeof startVersion === "string") {
      return { dir, version, startVersion };
    }
    onSkip?.(path, "the serving record names no artefact and version");
  } catch (err) {
    onSkip?.(path, `the serving record does not read: ${(err as Error).message}`);
  }
  return undefined;
}

/** The id in the manifest at `dir`, or undefined when there is none that reads. */
function manifestId(dir: string | undefined): string | undefined {
  try {
    return dir === undefined ? undefined : readManifest(resolve(dir)).id;
  } catch {
    return undefined;
  }
}

/** Replace the record atomically and durably: the file is synced, then renamed, then its directory synced. */
function writeRecord(path: string, record: ServingRecord): void {
  writeFileAtomic(path, Buffer.from(`${JSON.stringify(record)}\n`));
  const fd = openSync(dirname(path), "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A rollback was asked for before any swap. */
export class NoPreviousVersionError extends Error {
  constructor() {
    super("there is no previous model version to roll back to");
  }
}

/** Replay in chunks: a long log never has to sit in memory whole. */
const REPLAY_CHUNK = 10_000;

function applyEvents(
  deployment: Deployment,
  events: Iterable<FeedbackEvent & { seq: number }>,
): { unknownItems: number } {
  const { model, state, popularity } = deployment;
  let resolved: ResolvedEvent[] = [];
  let unknownItems = 0;
  const flush = () => {
    state.apply(resolved);
    popularity.add(resolved);
    resolved = [];
  };
  for (const e of events) {
    const item = model.catalogue.ids.get(e.item);
    // Counted even when applied already: a shared store applies a server's own batch before it returns.
    if (item === undefined) unknownItems++;
    if (e.seq <= deployment.appliedSeq) continue;
    deployment.appliedSeq = e.seq;
    if (item === undefined) continue;
    resolved.push({ user: e.user, item, timestamp: e.timestamp });
    if (resolved.length === REPLAY_CHUNK) flush();
  }
  flush();
  return { unknownItems };
}
