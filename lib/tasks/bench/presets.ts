/**
 * The benchmark presets of bench/SPEC.md: the energy ResNet (net_res_temb2) without
 * attention and without spectral normalization, at the sizes the PyTorch peer uses; and `toy2d`,
 * the default 2D preset's MLP as `deno task train` runs it.
 */
import { UserError } from "../../errors.ts";
import type { TrainConfig } from "../../config.ts";
import type { ResNetConfig } from "../../nets/types.ts";
import { buildConfig, DEFAULT_PRESET } from "../../presets.ts";

/** An image preset (the energy ResNet). */
export interface BenchPreset {
  kind?: "images";
  name: string;
  imageSize: number;
  channels: number;
  ch: number;
  chMult: number[];
  numResBlocks: number;
  batch: number;
}

/** The 2D workload: the training preset `dataset` (its MLP, K and schedule) at `batch`. */
export interface Toy2dBenchPreset {
  kind: "toy2d";
  name: string;
  dataset: string;
  batch: number;
}

export type AnyBenchPreset = BenchPreset | Toy2dBenchPreset;

export const isToy2dBench = (p: AnyBenchPreset): p is Toy2dBenchPreset => p.kind === "toy2d";

export const BENCH_PRESETS: Readonly<Record<string, AnyBenchPreset>> = Object.freeze({
  "cifar10-bench": {
    name: "cifar10-bench",
    imageSize: 32,
    channels: 3,
    ch: 32,
    chMult: [1, 2, 2, 2],
    numResBlocks: 1,
    batch: 16,
  },
  "fmnist-bench": {
    name: "fmnist-bench",
    imageSize: 28,
    channels: 1,
    ch: 32,
    chMult: [1, 2, 2],
    numResBlocks: 1,
    batch: 32,
  },
  "cifar10-official": {
    name: "cifar10-official",
    imageSize: 32,
    channels: 3,
    ch: 128,
    chMult: [1, 2, 2, 2],
    numResBlocks: 2,
    batch: 64,
  },
  "toy2d": { kind: "toy2d", name: "toy2d", dataset: DEFAULT_PRESET, batch: 256 },
});

export const BENCH_PRESET_NAMES = Object.keys(BENCH_PRESETS);

/** SPEC.md's workloads: the Langevin step's level and the chain length of a training iteration. */
export const BENCH_LEVEL = 2;
export const BENCH_T = 6;
export const BENCH_MCMC_STEPS = 30;

export function benchPreset(name: string): AnyBenchPreset {
  const p = BENCH_PRESETS[name];
  if (!p) {
    throw new UserError(
      `unknown bench preset '${name}'; use one of ${BENCH_PRESET_NAMES.join(", ")}`,
    );
  }
  return p;
}

export function benchNetConfig(p: BenchPreset): ResNetConfig {
  return {
    kind: "resnet",
    imageSize: p.imageSize,
    channels: p.channels,
    ch: p.ch,
    chMult: [...p.chMult],
    numResBlocks: p.numResBlocks,
    attention: false,
    activation: "lrelu",
    spectralNorm: false,
  };
}

/** Langevin steps per train_iter: SPEC.md's 30 for images, the training preset's own K in 2D. */
export function defaultMcmcSteps(p: AnyBenchPreset): number {
  return isToy2dBench(p) ? buildConfig(p.dataset).langevin.steps : BENCH_MCMC_STEPS;
}

/**
 * A training config around the benchmark net. Images: the official T=6 drl schedule, K ULA steps,
 * Adam at lr 1e-4 as the peer (no warm-up, no clipping: neither changes the work done), EMA as in
 * training. 2D: the training preset itself at the preset's batch (and K where given).
 */
export function benchTrainConfig(p: AnyBenchPreset, mcmcSteps = defaultMcmcSteps(p)): TrainConfig {
  if (isToy2dBench(p)) {
    return buildConfig(p.dataset, { batch: String(p.batch), K: String(mcmcSteps) });
  }
  return {
    preset: p.name,
    task: "images",
    dataset: "random",
    seed: 0,
    net: benchNetConfig(p),
    schedule: { kind: "drl", T: BENCH_T, b2: 2e-4 },
    langevin: { steps: mcmcSteps, sampler: "ula" },
    optim: { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 0, gradClip: 0, ema: 0.999 },
    train: {
      iterations: 1,
      batch: p.batch,
      logEvery: 1,
      checkpointEvery: 0,
      sampleEvery: 0,
      lossLimit: 1e6,
    },
    eval: { samples: 0, gridSize: 0 },
    data: { path: null, flip: false },
  };
}
