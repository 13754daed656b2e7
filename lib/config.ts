/**
 * Training configs: one typed preset per dataset, overridable from the command line with checked
 * keys and types (unknown keys and wrong types are refused), frozen after parsing.
 */
import { UserError } from "./errors.ts";
import type { NetConfig } from "./nets/types.ts";
import { type AdamConfig, LR_DECAYS } from "./optim.ts";
import { SAMPLER_KINDS, type SamplerKind } from "./samplers/langevin.ts";
import {
  ENERGY_SCALES,
  LOSS_WEIGHTS,
  makeSchedule,
  SCHEDULE_KINDS,
  type ScheduleConfig,
  STEP_RULES,
} from "./schedule.ts";

export type Task = "toy2d" | "images";

export interface TrainConfig {
  preset: string;
  task: Task;
  /** Data set name: a toy density (8gaussians, ...) or an image set (cifar10, fashion-mnist, ...). */
  dataset: string;
  seed: number;
  net: NetConfig;
  schedule: ScheduleConfig;
  langevin: { steps: number; sampler: SamplerKind };
  /**
   * ema: the EMA decay; emaWarmup: ramp the decay as min(ema, (1 + n) / (10 + n)) over updates n
   * (lib/optim.ts Ema); absent in configs written before it existed (off).
   */
  optim: AdamConfig & { ema: number; emaWarmup?: boolean };
  train: {
    iterations: number;
    batch: number;
    /** Steps between log lines and metric rows. */
    logEvery: number;
    checkpointEvery: number;
    /**
     * Keep a copy of the checkpoint every this many steps (checkpoint_step<N>.ckpt, for metrics
     * over training); 0 keeps only the latest. Absent in configs written before it existed.
     */
    keepEvery?: number;
    /**
     * Cut each batch into this many equal shards with their own random streams, summed in order
     * (lib/train.ts makeTrainStep): what several processes may compute side by side, with the
     * same numbers whatever their count. 1 (or absent, in older configs): the whole batch at once.
     */
    shards?: number;
    /**
     * Draw each example's level t with probability proportional to (t + 1)^-levelPower: 0 is
     * uniform (the paper's, and older configs without the field); above 0 the finest levels get
     * more of each batch. Not reweighted: it also weights the objective toward them.
     */
    levelPower?: number;
    /** Steps between sample grids/figures (0: only at the end). */
    sampleEvery: number;
    /** Stop when the mean loss falls below -lossLimit (a runaway negative loss) or is not finite. */
    lossLimit: number;
  };
  eval: { samples: number; gridSize: number };
  data: { path: string | null; flip: boolean };
}

/** Short command-line names for the most used fields. */
export const ALIASES: Record<string, string> = {
  lr: "optim.lr",
  beta1: "optim.beta1",
  warmup: "optim.warmup",
  "lr-decay": "optim.lrDecay",
  ema: "optim.ema",
  "ema-warmup": "optim.emaWarmup",
  "grad-clip": "optim.gradClip",
  batch: "train.batch",
  iterations: "train.iterations",
  "log-every": "train.logEvery",
  "checkpoint-every": "train.checkpointEvery",
  "keep-every": "train.keepEvery",
  shards: "train.shards",
  "level-power": "train.levelPower",
  "sample-every": "train.sampleEvery",
  K: "langevin.steps",
  steps: "langevin.steps",
  sampler: "langevin.sampler",
  T: "schedule.T",
  b2: "schedule.b2",
  schedule: "schedule.kind",
  "step-rule": "schedule.stepRule",
  "loss-weight": "schedule.lossWeight",
  "energy-scale": "schedule.energyScale",
  width: "net.width",
  depth: "net.depth",
  ch: "net.ch",
  "spectral-norm": "net.spectralNorm",
  samples: "eval.samples",
  data: "data.path",
  flip: "data.flip",
  seed: "seed",
};

/** Fields whose strings must come from a fixed list. */
const CHOICES: Record<string, readonly string[]> = {
  "schedule.kind": SCHEDULE_KINDS,
  "schedule.stepRule": STEP_RULES,
  "schedule.lossWeight": LOSS_WEIGHTS,
  "schedule.energyScale": ENERGY_SCALES,
  "optim.lrDecay": LR_DECAYS,
  "langevin.sampler": SAMPLER_KINDS,
  "net.activation": ["lrelu", "swish"],
};

/** Fields that may not be overridden (they define what the preset is). */
const FIXED = new Set(["preset", "task", "dataset", "net.kind"]);

function deepCopy<T>(x: T): T {
  return structuredClone(x);
}

function deepFreeze<T>(x: T): T {
  if (x && typeof x === "object") {
    Object.values(x).forEach(deepFreeze);
    Object.freeze(x);
  }
  return x;
}

function leafPaths(obj: unknown, prefix = ""): string[] {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return [prefix];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) =>
    leafPaths(v, prefix ? `${prefix}.${k}` : k)
  );
}

function parseValue(path: string, raw: string, current: unknown): unknown {
  const wrong = (what: string) =>
    new UserError(`--${path}=${raw}: expected ${what}; run with --help to see the fields`);
  if (typeof current === "number") {
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v)) throw wrong("a number");
    return v;
  }
  if (typeof current === "boolean") {
    if (["true", "1", "yes"].includes(raw)) return true;
    if (["false", "0", "no"].includes(raw)) return false;
    throw wrong("true or false");
  }
  if (Array.isArray(current)) {
    const v = raw.split(",").map(Number);
    if (v.some((x) => !Number.isFinite(x))) throw wrong("comma-separated numbers");
    return v;
  }
  if (current === null || typeof current === "string") {
    const choices = CHOICES[path];
    if (choices && !choices.includes(raw)) throw wrong(`one of ${choices.join(", ")}`);
    return raw;
  }
  throw wrong("a value of a supported type");
}

/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}

/** A copy of `base` with command-line overrides applied, validated and frozen. */
export function applyOverrides(
  base: TrainConfig,
  overrides: Record<string, string> = {},
): TrainConfig {
  const config = deepCopy(base);
  const paths = leafPaths(config);
  for (const [key, raw] of Object.entries(overrides)) {
    const path = ALIASES[key] ?? key;
    if (!paths.includes(path) || FIXED.has(path)) {
      const names = [...Object.keys(ALIASES), ...paths];
      const near = names.filter((n) => editDistance(n.toLowerCase(), key.toLowerCase()) <= 2);
      throw new UserError(
        `unknown option --${key}${near.length ? ` (did you mean --${near[0]}?)` : ""}; ` +
          `run with --help to list the options`,
      );
    }
    const parts = path.split(".");
    // deno-lint-ignore no-explicit-any
    let node: any = config;
    for (const p of parts.slice(0, -1)) node = node[p];
    const leaf = parts[parts.length - 1];
    node[leaf] = parseValue(path, raw, node[leaf]);
  }
  validateConfig(config);
  return deepFreeze(config);
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new UserError(`${name} must be a positive integer (got ${v})`);
  }
}

export function validateConfig(c: TrainConfig): void {
  positiveInt("train.iterations", c.train.iterations);
  positiveInt("train.batch", c.train.batch);
  positiveInt("train.logEvery", c.train.logEvery);
  positiveInt("train.checkpointEvery", c.train.checkpointEvery);
  const shards = c.train.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1 || c.train.batch % shards !== 0) {
    throw new UserError(
      `train.shards must be a positive integer that divides the batch (${c.train.batch}); got ${shards}`,
    );
  }
  const power = c.train.levelPower ?? 0;
  if (!(Number.isFinite(power) && power >= 0)) {
    throw new UserError(`train.levelPower must be a finite number >= 0 (got ${power})`);
  }
  const keep = c.train.keepEvery ?? 0;
  if (!Number.isInteger(keep) || keep < 0) {
    throw new UserError(`train.keepEvery must be a non-negative integer (got ${keep})`);
  }
  positiveInt("schedule.T", c.schedule.T);
  if (!Number.isInteger(c.langevin.steps) || c.langevin.steps < 0) {
    throw new UserError(`langevin.steps must be a non-negative integer (got ${c.langevin.steps})`);
  }
  if (!Number.isInteger(c.seed) || c.seed < 0) {
    throw new UserError(`seed must be a non-negative integer (got ${c.seed})`);
  }
  if (!(c.optim.lr > 0)) throw new UserError(`optim.lr must be positive (got ${c.optim.lr})`);
  const decay = c.optim.lrDecay ?? "constant";
  if (!LR_DECAYS.includes(decay)) {
    throw new UserError(`optim.lrDecay must be one of ${LR_DECAYS.join(", ")} (got ${decay})`);
  }
  if (!(c.optim.ema >= 0 && c.optim.ema < 1)) {
    throw new UserError(`optim.ema must be in [0, 1) (got ${c.optim.ema})`);
  }
  if (!(c.optim.beta1 >= 0 && c.optim.beta1 < 1)) {
    throw new UserError(`optim.beta1 must be in [0, 1) (got ${c.optim.beta1})`);
  }
  if (!(c.schedule.b2 > 0)) {
    throw new UserError(`schedule.b2 must be positive (got ${c.schedule.b2})`);
  }
  // The schedule's own checks (e.g. the drl formula's T <= 501) as a config error, not later.
  makeSchedule(c.schedule);
}

/** The fields a user can set, with their current values, for --help. */
export function describeFields(config: TrainConfig): string[] {
  const inverse = Object.fromEntries(Object.entries(ALIASES).map(([a, p]) => [p, a]));
  return leafPaths(config).filter((p) => !FIXED.has(p)).map((p) => {
    // deno-lint-ignore no-explicit-any
    const value = p.split(".").reduce((n: any, k) => n[k], config);
    const alias = inverse[p] ? ` (--${inverse[p]})` : "";
    return `  --${p}=${JSON.stringify(value)}${alias}`;
  });
}
