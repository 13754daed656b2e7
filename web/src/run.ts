/// <reference lib="dom" />
/**
 * One progressive sampling on the page: the library's own generator (lib/samplers/progressive.ts
 * progressiveSteps, the code `deno task sample` drains) consumed event by event, with the chains'
 * states read back and handed to the views every `drawEveryMs`, and the browser given a chance
 * to paint (and the user to press Stop) between steps.
 */
import * as tf from "@tensorflow/tfjs";
import { levelInputScale } from "../../lib/level_density.ts";
import { Rng } from "../../lib/rng.ts";
import type { SamplingModel } from "../../lib/sampling_model.ts";
import { type LevelChainStats, progressiveSteps } from "../../lib/samplers/progressive.ts";
import type { RunSettings } from "./settings.ts";

/** Where the run's states go. Values are x_t on the host (the chain's y divided by a_{t+1}). */
export interface RunSink {
  /** The starting state x_s of level s (noise at the top, or the dropped chains). */
  start(level: number, x: Float32Array): void;
  /** A chain at `level` after `step` of K steps. */
  step(level: number, step: number, x: Float32Array): void;
  /** A finished level: its output, statistics and wall time (drawing included). */
  level(level: number, x: Float32Array, stats: LevelChainStats, ms: number): void;
}

export interface RunRequest {
  model: SamplingModel;
  settings: RunSettings;
  /** One example's shape: [2], or [H, W, C]. */
  exampleShape: readonly number[];
  /** Start from this x at this level (every chain the same point), instead of noise at T. */
  start?: { level: number; example: Float32Array };
  /** Least time between two read-backs for drawing during a chain. */
  drawEveryMs: number;
  /** Polled between steps; true ends the run early. */
  stopRequested: () => boolean;
}

/** Lets the browser paint and handle input: a new task (setTimeout), not a microtask. */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function hostValues(x: tf.Tensor, divideBy = 1): Promise<Float32Array> {
  const values = Float32Array.from(await x.data());
  return divideBy === 1 ? values : values.map((v) => v / divideBy);
}

/** Runs progressive sampling to the end (true) or until stopped (false). */
export async function runProgressive(req: RunRequest, sink: RunSink): Promise<boolean> {
  const { net, st } = req.model;
  const { K, chains, seed, sampler } = req.settings;
  const shape = [chains, ...req.exampleShape];
  const start = req.start;
  const startX = start
    ? tf.tidy(() =>
      tf.tile(
        tf.tensor(start.example, [1, ...req.exampleShape]),
        [chains, ...req.exampleShape.map(() => 1)],
      )
    )
    : null;
  const steps = progressiveSteps(
    net,
    shape,
    st,
    new Rng(seed),
    { steps: K, sampler, noiseScale: 1 },
    start && startX ? { level: start.level, x: startX } : undefined,
  );
  let levelStart = performance.now();
  let lastDraw = 0;
  let ended = false;
  try {
    for (;;) {
      const r = await steps.next();
      if (r.done) {
        ended = true;
        tf.dispose(r.value.levels.filter((x) => x !== undefined));
        return true;
      }
      const ev = r.value;
      if (ev.kind === "start") {
        sink.start(ev.level, await hostValues(ev.x));
        levelStart = performance.now();
      } else if (ev.kind === "step") {
        const now = performance.now();
        if (now - lastDraw >= req.drawEveryMs || ev.step === K) {
          sink.step(ev.level, ev.step, await hostValues(ev.y, levelInputScale(st, ev.level)));
          lastDraw = performance.now();
        }
        await nextTask();
      } else {
        const x = await hostValues(ev.x);
        sink.level(ev.level, x, ev.stats, performance.now() - levelStart);
        levelStart = performance.now();
        await nextTask();
      }
      if (req.stopRequested()) return false;
    }
  } finally {
    // Stopped, or failed mid-way: ending the generator disposes every tensor it made.
    if (!ended) await steps.return(undefined as never);
    startX?.dispose();
  }
}
