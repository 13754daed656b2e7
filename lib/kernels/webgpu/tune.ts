/**
 * Picks the launch shapes (workgroup size, pixels per invocation) of the WGSL kernels for the
 * adapter in use by timing each candidate on a representative convolution (the cifar10 energy
 * net's first level by default: 16 x 32 x 32, 32 -> 32 channels, 3x3) and head, keeping the
 * fastest (pixels per invocation first, then the workgroup size at those). Each timing is the median of a few runs after one warm-up (which also compiles), and
 * reads a value back so the GPU work is inside it. Runs once per process and adapter.
 */
import * as tf from "@tensorflow/tfjs";
import { medianMs } from "../../tensor_util.ts";
import { energyHead } from "../energy_head.ts";
import { fusedConv, fusedConvFilterGrad, fusedConvInputGrad } from "../fused_conv.ts";
import {
  describeLaunchShapes,
  type LaunchShape,
  launchShape,
  PIXEL_CANDIDATES,
  type ProgramKind,
  setLaunchShape,
  WORKGROUP_CANDIDATES,
} from "./workgroups.ts";

export interface TuneShape {
  batch: number;
  size: number;
  channels: number;
}

export const DEFAULT_TUNE_SHAPE: TuneShape = { batch: 16, size: 32, channels: 32 };

let tunedFor: string | null = null;

/** Times each candidate and keeps the fastest; returns it. */
async function pick(
  kind: ProgramKind,
  candidates: LaunchShape[],
  run: () => tf.Tensor,
  reps: number,
): Promise<LaunchShape> {
  let best: { shape: LaunchShape; ms: number } | null = null;
  for (const shape of candidates) {
    setLaunchShape(kind, shape);
    const ms = await medianMs(run, reps);
    if (!best || ms < best.ms) best = { shape, ms };
  }
  setLaunchShape(kind, best!.shape);
  return best!.shape;
}

/** Pixels per invocation at the default workgroup size, then the workgroup size at those. */
async function pickTiled(kind: ProgramKind, run: () => tf.Tensor, reps: number): Promise<void> {
  const start = launchShape(kind).workgroupSize;
  const { pixels } = await pick(
    kind,
    PIXEL_CANDIDATES.map((p) => ({ workgroupSize: start, pixels: p })),
    run,
    reps,
  );
  await pick(
    kind,
    WORKGROUP_CANDIDATES.map((workgroupSize) => ({ workgroupSize, pixels })),
    run,
    reps,
  );
}

/**
 * Tunes every program kind on the active WebGPU backend (a no-op on other backends and when
 * already tuned for this adapter); returns the chosen shapes.
 */
export async function tuneLaunchShapes(
  adapter: string,
  shape: TuneShape = DEFAULT_TUNE_SHAPE,
  reps = 3,
): Promise<string> {
  if (tf.getBackend() !== "webgpu" || tunedFor === adapter) return describeLaunchShapes();
  const { batch, size, channels: c } = shape;
  const x = tf.randomNormal([batch, size, size, c], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, c, c], 0, 0.1, "float32", 2) as tf.Tensor4D;
  const rowBias = tf.randomNormal([batch, c], 0, 1, "float32", 3) as tf.Tensor2D;
  const v = tf.randomNormal([batch, c], 0, 1, "float32", 4) as tf.Tensor2D;
  try {
    const flat = WORKGROUP_CANDIDATES.map((workgroupSize) => ({ workgroupSize, pixels: 1 }));
    const slope = 0.2;
    await pickTiled("conv", () => fusedConv(x, w, { leakySlope: slope, rowBias }), reps);
    await pickTiled("convInputGrad", () => fusedConvInputGrad(x, w, x, slope), reps);
    await pick("convFilterGrad", flat, () => fusedConvFilterGrad(x, x, 3, slope), reps);
    await pick("head", flat, () => energyHead(x, v), reps);
  } finally {
    tf.dispose([x, w, rowBias, v]);
  }
  tunedFor = adapter;
  return describeLaunchShapes();
}
