/**
 * The learned density of one noise level, for pictures of a 2D model: the level-t EBM's
 * unnormalised marginal log-density f(y, t) / s_t^2 at y = a_{t+1} x (the DRL scaling of
 * lib/recovery.ts, without the recovery's Gaussian term). Shared by the end-of-run figure
 * (lib/tasks/toy2d_report.ts) and the browser page's heat maps (web/).
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "./nets/types.ts";
import type { ScheduleTensors } from "./schedule.ts";

/** The box the figures and likelihood grids cover; the toy data sets live in about [-1, 1]^2. */
export const TOY_BOX = { lo: -1.5, hi: 1.5 };

/** log q_t at 2D points y (x, y pairs), batched: f(y, t) / s_t^2. */
export function levelLogDensity(
  net: EnergyNet,
  st: ScheduleTensors,
  level: number,
): (points: Float32Array) => Promise<Float32Array> {
  return async (points) => {
    const n = points.length / 2;
    const out = tf.tidy(() => {
      const y = tf.tensor2d(points, [n, 2]);
      const t = tf.fill([n], level, "int32");
      return tf.div(net.energy(y, t), st.schedule.stepSizes[level]);
    });
    const values = Float32Array.from(await out.data());
    out.dispose();
    return values;
  };
}

/**
 * The scale a_{t+1} that maps level t's samples x_t to the net's input y, as sampling uses it:
 * 1 at the top level (its EBM is unconditional and unscaled, lib/schedule.ts aPrev).
 */
export function levelInputScale(st: ScheduleTensors, level: number): number {
  const T = st.schedule.T;
  return level + 1 >= T ? 1 : st.schedule.alphas[level + 1];
}
