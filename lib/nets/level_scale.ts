/**
 * f(y, t) = c_t g(y, t): an energy net whose output g is multiplied by a constant per level
 * (schedule.energyScale "step": c_t = s_t^2, so g is level t's log-density in nats). Every path of
 * the inner net is kept (its native Langevin chains and one-pass parameter gradients) and scaled
 * exactly: a chain on scale_b f = (scale_b c_t) g is the inner chain with that scale, and the
 * parameter gradient of sum_b cot_b f_b is the inner one with cotangents cot_b c_{t_b}.
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet, FixedLevelEnergy } from "./types.ts";
import { appendDims } from "../tensor_util.ts";

export function withLevelScale(net: EnergyNet, levelScale: readonly number[]): EnergyNet {
  const scale = tf.tensor1d([...levelScale]);
  const at = (t: tf.Tensor) => tf.gather(scale, t) as tf.Tensor1D;

  const atLevels = (t: tf.Tensor): FixedLevelEnergy | null => {
    const inner = net.atLevels?.(t) ?? null;
    if (!inner) return null;
    const c = at(t);
    const innerLangevin = inner.langevin;
    return {
      energyAndGrad: (y) => {
        const { energy, grad } = inner.energyAndGrad(y);
        const out = tf.tidy(() => ({
          energy: tf.mul(energy, c) as tf.Tensor1D,
          grad: tf.mul(grad, appendDims(c, grad.rank)),
        }));
        tf.dispose([energy, grad]);
        return out;
      },
      langevin: innerLangevin
        ? (chain) => {
          const scaled = tf.mul(chain.scale, c) as tf.Tensor1D;
          try {
            return innerLangevin({ ...chain, scale: scaled });
          } finally {
            scaled.dispose();
          }
        }
        : undefined,
      dispose: () => {
        inner.dispose();
        c.dispose();
      },
    };
  };

  const energyParamGrad = (y: tf.Tensor, t: tf.Tensor, cot: tf.Tensor1D) => {
    if (!net.energyParamGrad) return null;
    const c = at(t);
    const scaledCot = tf.mul(cot, c) as tf.Tensor1D;
    try {
      const out = net.energyParamGrad(y, t, scaledCot);
      if (!out) return null;
      const energy = tf.mul(out.energy, c) as tf.Tensor1D;
      out.energy.dispose();
      return { energy, grads: out.grads };
    } finally {
      tf.dispose([c, scaledCot]);
    }
  };

  return {
    config: net.config,
    params: net.params,
    buffers: net.buffers,
    energy: (y, t) => tf.tidy(() => tf.mul(net.energy(y, t), at(t)) as tf.Tensor1D),
    atLevels,
    energyParamGrad,
    updateSpectralNorm: (copy) => net.updateSpectralNorm(copy),
    dispose: () => {
      net.dispose();
      scale.dispose();
    },
  };
}
