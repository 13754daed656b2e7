/** A test energy with a known answer: f(y, t) = -k ||y - m||^2 / 2 (one trainable scalar m). */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet, MlpConfig } from "../../lib/nets/types.ts";

export function quadraticNet(k: number, m = 0): EnergyNet {
  const mean = tf.variable(tf.scalar(m), true);
  const config: MlpConfig = {
    kind: "mlp",
    inputDim: 2,
    width: 1,
    depth: 1,
    tembDim: 2,
    activation: "lrelu",
    spectralNorm: false,
  };
  return {
    config,
    params: new Map([["m", mean]]),
    buffers: new Map(),
    energy: (y) =>
      tf.tidy(() =>
        tf.mul(
          tf.sum(tf.square(tf.sub(y, mean)), Array.from({ length: y.rank - 1 }, (_, i) => i + 1)),
          -k / 2,
        )
      ) as tf.Tensor1D,
    updateSpectralNorm: () => {},
    dispose: () => mean.dispose(),
  };
}
