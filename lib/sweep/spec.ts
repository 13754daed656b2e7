/**
 * A sweep's spec: a preset, fixed overrides, a grid of overrides and seeds, expanded into one job
 * per (setting, seed), each with its full frozen config. Every config is built (and so checked:
 * unknown keys, wrong types, a schedule that cannot exist) when the sweep is made, so a typo fails
 * `deno task sweep create`, not a worker hours later.
 */
import { isAbsolute, resolve } from "node:path";
import type { TrainConfig } from "../config.ts";
import { UserError } from "../errors.ts";
import { buildConfig } from "../presets.ts";

export type GridValue = string | number | boolean;

export interface SweepSpec {
  /** A label for tables and status lines. */
  name?: string;
  preset: string;
  /** Overrides every job shares (--KEY=VALUE of `deno task train`). */
  overrides?: Record<string, GridValue>;
  /** Each key's values; the jobs are every combination, in the order the keys are given. */
  grid: Record<string, GridValue[]>;
  seeds: number[];
  /**
   * The folder every worker keeps this sweep's run folders (checkpoints) in: a folder shared by
   * the machines (NFS, ...), so a job another worker takes over goes on from its last checkpoint.
   */
  store: string;
  /**
   * How often the queue hands a job out again (default 10): after its worker was lost, stopped,
   * or hit an error; a training longer than a day also uses one per day (lib/sweep/queue.ts).
   */
  retries?: number;
  /** A worker that has not said it is alive for this long has lost its job (default 30, >= 10). */
  heartbeatSeconds?: number;
}

export interface SweepJobPlan {
  /** The job's place in the sweep, from 0: settings in grid order, seeds within each. */
  index: number;
  /** The grid's overrides of this job, as the strings given to buildConfig. */
  setting: Record<string, string>;
  seed: number;
  config: TrainConfig;
}

export const DEFAULT_RETRIES = 10;
export const DEFAULT_HEARTBEAT_SECONDS = 30;
/** pg-boss's lower bound on a job's heartbeat interval. */
export const MIN_HEARTBEAT_SECONDS = 10;

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

function isGridValue(x: unknown): x is GridValue {
  return typeof x === "string" || typeof x === "boolean" ||
    (typeof x === "number" && Number.isFinite(x));
}

function nonNegativeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0;
}

/** Checks a spec read from JSON (or built from the command line) and fills in the defaults. */
export function checkSpec(raw: unknown, where = "the sweep spec"): Required<SweepSpec> {
  const bad = (what: string) => new UserError(`${where}: ${what}`);
  if (!isRecord(raw)) throw bad("expected a JSON object");
  const known = [
    "name",
    "preset",
    "overrides",
    "grid",
    "seeds",
    "store",
    "retries",
    "heartbeatSeconds",
  ];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw bad(`unknown field(s) ${unknown.join(", ")}; fields: ${known.join(", ")}`);
  }
  if (typeof raw.preset !== "string" || raw.preset === "") throw bad("'preset' must be a name");
  if (raw.name !== undefined && typeof raw.name !== "string") throw bad("'name' must be a string");
  const overrides = raw.overrides ?? {};
  if (!isRecord(overrides) || !Object.values(overrides).every(isGridValue)) {
    throw bad("'overrides' must map option names to single values");
  }
  if (!isRecord(raw.grid)) throw bad("'grid' must map option names to lists of values");
  for (const [key, values] of Object.entries(raw.grid)) {
    if (!Array.isArray(values) || values.length === 0 || !values.every(isGridValue)) {
      throw bad(`grid '${key}' must be a non-empty list of numbers, strings or booleans`);
    }
    if (new Set(values.map(String)).size !== values.length) {
      throw bad(`grid '${key}' lists a value twice`);
    }
  }
  for (const key of ["seed", ...Object.keys(overrides)]) {
    if (key in raw.grid) {
      throw bad(
        key === "seed"
          ? "give the seeds as 'seeds', not in the grid"
          : `'${key}' is both a fixed override and a grid axis`,
      );
    }
  }
  if ("seed" in overrides) throw bad("give the seeds as 'seeds', not as an override");
  const seeds = raw.seeds ?? [0];
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every(nonNegativeInt)) {
    throw bad("'seeds' must be a non-empty list of non-negative integers");
  }
  if (new Set(seeds).size !== seeds.length) throw bad("'seeds' lists a seed twice");
  if (typeof raw.store !== "string" || raw.store === "") {
    throw bad(
      "'store' must name the folder the workers share for checkpoints (--store DIR): a job " +
        "taken over by another worker goes on from its last checkpoint there",
    );
  }
  const retries = raw.retries ?? DEFAULT_RETRIES;
  if (!nonNegativeInt(retries)) throw bad("'retries' must be a non-negative integer");
  const heartbeat = raw.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS;
  if (!nonNegativeInt(heartbeat) || heartbeat < MIN_HEARTBEAT_SECONDS) {
    throw bad(`'heartbeatSeconds' must be an integer >= ${MIN_HEARTBEAT_SECONDS}`);
  }
  return {
    name: (raw.name as string | undefined) ?? "",
    preset: raw.preset,
    overrides: overrides as Record<string, GridValue>,
    grid: raw.grid as Record<string, GridValue[]>,
    seeds: seeds as number[],
    // Absolute, so it names the same folder whatever folder a worker on this machine starts in.
    store: isAbsolute(raw.store) ? raw.store : resolve(raw.store),
    retries,
    heartbeatSeconds: heartbeat,
  };
}

/** Every combination of the grid's values, the first key varying slowest. */
export function gridSettings(grid: Record<string, GridValue[]>): Record<string, string>[] {
  let settings: Record<string, string>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    settings = settings.flatMap((s) => values.map((v) => ({ ...s, [key]: String(v) })));
  }
  return settings;
}

/** The jobs of a spec, each config built and checked. */
export function expandSpec(spec: Required<SweepSpec>): SweepJobPlan[] {
  const fixed = Object.fromEntries(
    Object.entries(spec.overrides).map(([k, v]) => [k, String(v)]),
  );
  const jobs: SweepJobPlan[] = [];
  for (const setting of gridSettings(spec.grid)) {
    for (const seed of spec.seeds) {
      let config: TrainConfig;
      try {
        config = buildConfig(spec.preset, { ...fixed, ...setting, seed: String(seed) });
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        throw new UserError(`setting ${settingLabel(setting)}: ${err.message}`);
      }
      jobs.push({ index: jobs.length, setting, seed, config });
    }
  }
  return jobs;
}

/** "lr=0.001 K=5" (or "(no grid)" for a sweep of seeds only). */
export function settingLabel(setting: Record<string, string>): string {
  const parts = Object.entries(setting).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(" ") : "(no grid)";
}

/** "lr=1e-3,3e-4" → ["lr", ["1e-3", "3e-4"]]: one --grid option of the command line. */
export function parseGridOption(text: string): [string, string[]] {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) {
    throw new UserError(`--grid ${text}: expected KEY=V1,V2,... (e.g. --grid lr=1e-3,3e-4)`);
  }
  const values = text.slice(eq + 1).split(",").map((v) => v.trim());
  if (values.some((v) => v === "")) throw new UserError(`--grid ${text}: an empty value`);
  return [text.slice(0, eq), values];
}

/** "iterations=2000" → ["iterations", "2000"]: one --set option of the command line. */
export function parseSetOption(text: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new UserError(`--set ${text}: expected KEY=VALUE (e.g. --set iterations=2000)`);
  }
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** "0,1,2" → [0, 1, 2]. */
export function parseSeedsOption(text: string): number[] {
  const seeds = text.split(",").map((s) => Number(s.trim()));
  if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new UserError(`--seeds ${text}: expected non-negative integers (e.g. --seeds 0,1,2)`);
  }
  return seeds;
}
