/**
 * Adam (Kingma & Ba 2015) with linear learning-rate warm-up and optional global-norm gradient
 * clipping, and an exponential moving average of the weights. Written out (rather than tfjs's
 * optimizer) so its whole state is named, checkpointable and warm-up can set the rate per step.
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "./nets/types.ts";
import { adamKernelAvailable, adamUpdate, emaUpdate } from "./kernels/adam_ema.ts";

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Steps of linear warm-up from 0 to lr (0: none). */
  warmup: number;
  /** Clip gradients to this global L2 norm (0: off). */
  gradClip: number;
  /**
   * After warm-up, keep the rate (`constant`, also when absent: configs written before the field)
   * or lower it to 0 along a half cosine over the run's iterations (`cosine`, Loshchilov & Hutter
   * 2017, without restarts), so the last updates refine instead of jumping around a minimum.
   */
  lrDecay?: LrDecay;
}

export const LR_DECAYS = ["constant", "cosine"] as const;
export type LrDecay = (typeof LR_DECAYS)[number];

export class Adam {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied so far. */
  step = 0;

  /**
   * `horizon`: the number of updates the cosine decay spans (the run's iterations; a continued run
   * with more iterations stretches it from its current step on).
   */
  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly config: AdamConfig,
    readonly horizon = Infinity,
  ) {
    for (const [name, p] of params) {
      // Inside tidy so the zero tensors the variables copy from are freed.
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  learningRate(step = this.step): number {
    const { lr, warmup, lrDecay } = this.config;
    const warm = warmup > 0 ? Math.min(1, (step + 1) / warmup) : 1;
    const decay = lrDecay === "cosine"
      ? 0.5 * (1 + Math.cos(Math.PI * Math.min(1, step / this.horizon)))
      : 1;
    return lr * warm * decay;
  }

  /** Applies one update; returns the global gradient norm before clipping (a scalar tensor). */
  apply(grads: Map<string, tf.Tensor>): tf.Scalar {
    const { beta1, beta2, eps, gradClip } = this.config;
    const lr = this.learningRate();
    this.step++;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    return tf.tidy(() => {
      const norm = tf.sqrt(
        tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))),
      ) as tf.Scalar;
      const scale = gradClip > 0 ? tf.minimum(1, tf.div(gradClip, tf.add(norm, 1e-12))) : null;
      const native = adamKernelAvailable();
      const one = native && !scale ? tf.scalar(1) : null;
      for (const [name, p] of this.params) {
        let g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        if (native) {
          // One kernel for the lines below (lib/kernels/adam_ema.ts).
          const attrs = { lr, beta1, beta2, eps, bc1, bc2 };
          const [p2, m2, v2] = adamUpdate({ p, m, v, g, scale: scale ?? one! }, attrs);
          p.assign(p2);
          m.assign(m2);
          v.assign(v2);
          continue;
        }
        if (scale) g = tf.mul(g, scale);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      }
      return norm;
    });
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}

/** What the EMA needs of a net: its parameters, spectral-norm vectors and power iteration. */
export type EmaTarget = Pick<EnergyNet, "params" | "buffers" | "updateSpectralNorm">;

/**
 * Exponential moving average of parameters: shadow <- decay * shadow + (1 - decay) * param.
 * The EMA weights keep their own spectral-norm vectors, advanced by one power iteration on the
 * EMA weights at each update (as the live net's get one per training step): sigma of an EMA layer
 * is then estimated from that layer's own weights, as in the official code, where the EMA model is
 * a second network whose SN layers iterate on their own u (nn.py SN._compute_weights).
 */
export class Ema {
  readonly shadow = new Map<string, tf.Variable>();
  /** The EMA weights' spectral-norm vectors, by the net's buffer names. */
  readonly shadowBuffers = new Map<string, tf.Variable>();

  /**
   * `warmup`: the decay at update n (counting from 1) is min(decay, (1 + n) / (10 + n)), as
   * TensorFlow's ExponentialMovingAverage with num_updates: early averages forget the random
   * initialisation within tens of steps instead of thousands (0.999^1000 = 0.37 of the init is
   * left after 1,000 steps). Off in the official presets (train.py uses a plain decay).
   */
  constructor(readonly net: EmaTarget, readonly decay: number, readonly warmup = false) {
    for (const [name, p] of net.params) {
      this.shadow.set(name, tf.tidy(() => tf.variable(tf.clone(p), false)));
    }
    for (const [name, b] of net.buffers) {
      this.shadowBuffers.set(name, tf.tidy(() => tf.variable(tf.clone(b), false)));
    }
  }

  get params(): Map<string, tf.Variable> {
    return this.net.params;
  }

  /** The decay of the `n`-th update (n from 1). */
  decayAt(n: number): number {
    return this.warmup ? Math.min(this.decay, (1 + n) / (10 + n)) : this.decay;
  }

  /** The `n`-th update (n from 1: the optimizer's step count after its update). */
  update(n: number): void {
    const decay = this.decayAt(n);
    tf.tidy(() => {
      const native = adamKernelAvailable();
      for (const [name, p] of this.params) {
        const s = this.shadow.get(name)!;
        s.assign(native ? emaUpdate(s, p, decay) : tf.add(tf.mul(s, decay), tf.mul(p, 1 - decay)));
      }
    });
    this.refineSpectralNorm(1);
  }

  /** `iterations` power iterations of the EMA weights' own vectors. */
  refineSpectralNorm(iterations: number): void {
    if (this.shadowBuffers.size === 0) return;
    for (let i = 0; i < iterations; i++) {
      this.net.updateSpectralNorm({ params: this.shadow, buffers: this.shadowBuffers });
    }
  }

  /**
   * Runs `fn` with the EMA weights and their spectral-norm vectors swapped into the net, then
   * restores the live ones.
   */
  async withEmaWeights<R>(fn: () => Promise<R>): Promise<R> {
    const swaps: [Map<string, tf.Variable>, Map<string, tf.Variable>][] = [
      [this.params, this.shadow],
      [this.net.buffers, this.shadowBuffers],
    ];
    const saved = swaps.map(([live, ema]) => {
      const keep = new Map<string, tf.Tensor>();
      for (const [name, v] of live) {
        keep.set(name, tf.clone(v));
        v.assign(ema.get(name)!);
      }
      return keep;
    });
    try {
      return await fn();
    } finally {
      swaps.forEach(([live], i) => {
        for (const [name, v] of live) v.assign(saved[i].get(name)!);
        tf.dispose([...saved[i].values()]);
      });
    }
  }

  dispose(): void {
    tf.dispose([...this.shadow.values(), ...this.shadowBuffers.values()]);
  }
}
