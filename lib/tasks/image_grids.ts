/** Image samples by progressive sampling (Algorithm 3), written as grids. */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "../config.ts";
import { floatBatchToTiles, type Image8, imageGrid, writePng } from "../io/png.ts";
import type { EnergyNet } from "../nets/types.ts";
import type { ScheduleTensors } from "../schedule.ts";
import { Rng } from "../rng.ts";
import { drawSamples, type ProgressiveResult } from "../samplers/progressive.ts";

export function imageShape(config: TrainConfig): [number, number, number] {
  if (config.net.kind !== "resnet") throw new Error("image sampling needs a ResNet config");
  return [config.net.imageSize, config.net.imageSize, config.net.channels];
}

/** Tiles of x_t for every level: row i is chain i, from the noise x_T (left) to x_0 (right). */
export async function levelStrips(result: ProgressiveResult, rows: number): Promise<Image8[]> {
  const T = result.levels.length - 1;
  const perLevel: Image8[][] = [];
  for (let t = T; t >= 0; t--) {
    const x = result.levels[t];
    const [, h, w, c] = x.shape as [number, number, number, number];
    const part = tf.tidy(() => tf.clipByValue(x.slice([0, 0, 0, 0], [rows, h, w, c]), -1, 1));
    const data = Float32Array.from(await part.data());
    part.dispose();
    perLevel.push(floatBatchToTiles({ data, shape: [rows, h, w, c] }));
  }
  const tiles: Image8[] = [];
  for (let i = 0; i < rows; i++) for (const level of perLevel) tiles.push(level[i]);
  return tiles;
}

/**
 * Draws `config.eval.samples` images with the weights now in `net` (seeded apart from training)
 * and writes a grid of strips, one chain per row showing every level.
 */
export async function writeImageSamples(
  config: TrainConfig,
  net: EnergyNet,
  st: ScheduleTensors,
  path: string,
  seed = config.seed + 0x5eed,
): Promise<void> {
  const n = config.eval.samples;
  const [result] = await Array.fromAsync(
    drawSamples(net, imageShape(config), n, n, st, new Rng(seed >>> 0), config.langevin),
  );
  const rows = Math.min(n, 16);
  const tiles = await levelStrips(result, rows);
  tf.dispose(result.levels);
  const grid = imageGrid(tiles, rows, config.schedule.T + 1);
  await writePng(path, grid.pixels, grid.width, grid.height, grid.channels);
}
