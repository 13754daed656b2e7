/**
 * Building blocks shared by the energy nets: seeded parameter creation (with optional spectral
 * normalisation), activations and the sinusoidal time embedding.
 *
 * Initialisation follows the official DRL code (Gao et al. 2021, nn.default_init, itself from
 * DDPM, Ho et al. 2020): variance scaling, fan_avg, uniform; zero biases; layers that end a residual
 * branch start at scale 1e-10 so each block starts near the identity.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import { leakyRelu } from "../kernels/leaky_relu.ts";
import type { Activation, SpectralNormCopy } from "./types.ts";
import {
  powerIterationStep,
  spectralNormalize,
  type SpectralNormedWeight,
} from "./spectral_norm.ts";

export const LEAKY_RELU_SLOPE = 0.2;

export function activate(x: tf.Tensor, kind: Activation): tf.Tensor {
  // swish(x) = x * sigmoid(x) (Ramachandran et al. 2017); smooth, for smooth energy landscapes.
  // leakyRelu is tf.leakyRelu, or one native kernel each way where one is installed.
  return kind === "lrelu" ? leakyRelu(x, LEAKY_RELU_SLOPE) : tf.mul(x, tf.sigmoid(x));
}

/**
 * Sinusoidal embedding of integer levels t [B] -> [B, dim]: half sin, half cos, frequencies
 * exp(-ln(10000) * i / (half - 1)), i < half (Vaswani et al. 2017 as in DDPM/DRL
 * get_timestep_embedding); an odd dim gets a zero column.
 */
export function timestepEmbedding(t: tf.Tensor, dim: number): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(-Math.log(10000) * i / (half - 1));
  const arg = tf.mul(tf.reshape(tf.cast(t, "float32"), [-1, 1]), tf.tensor2d(freqs, [1, half]));
  const emb = tf.concat([tf.sin(arg), tf.cos(arg)], 1) as tf.Tensor2D;
  return dim % 2 === 1 ? tf.pad(emb, [[0, 0], [0, 1]]) : emb;
}

/** A dense or conv layer: `weight()` is the effective weight (spectrally normalised or raw). */
export interface Layer {
  weight(): tf.Tensor;
  /** Absent for layers whose bias is supplied by another term (see the MLP). */
  readonly bias?: tf.Variable;
}

export interface LayerOptions {
  /** Variance-scaling scale; 0 means the official near-zero init (1e-10). */
  initScale?: number;
  /** Overrides the factory default (the official head dense is never normalised). */
  spectralNorm?: boolean;
  bias?: boolean;
  /**
   * Dense only: the weight is this many side-by-side [in, out / blocks] matrices, each initialised
   * as its own layer (e.g. attention's q, k, v fused into one matmul for speed).
   */
  blocks?: number;
}

/**
 * Creates named parameters in a fixed order from one seeded stream, so the same seed gives the
 * same net; tracks spectral-normalised weights for `updateSpectralNorm`.
 */
export class ParamFactory {
  readonly params = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  readonly spectral: SpectralNormedWeight[] = [];

  constructor(private readonly rng: Rng, private readonly spectralNorm: boolean) {}

  /** Variance scaling, fan_avg, uniform: U(-l, l) with l = sqrt(3 scale / ((fanIn + fanOut) / 2)). */
  uniformInit(shape: number[], fanIn: number, fanOut: number, initScale: number): tf.Tensor {
    const scale = initScale === 0 ? 1e-10 : initScale;
    const limit = Math.sqrt((3 * scale) / ((fanIn + fanOut) / 2));
    return tf.tidy(() => tf.sub(tf.mul(this.rng.uniform(shape), 2 * limit), limit));
  }

  /** Registers a trainable variable under `name` (names must be unique within a net). */
  variable(name: string, initial: tf.Tensor): tf.Variable {
    if (this.params.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    // No tfjs variable name: tfjs names are global, and several nets (e.g. a model and its EMA)
    // share the same parameter names.
    const v = tf.variable(initial, true);
    initial.dispose();
    this.params.set(name, v);
    return v;
  }

  dense(name: string, inDim: number, outDim: number, opts: LayerOptions = {}): Layer {
    const blocks = opts.blocks ?? 1;
    const blockOut = outDim / blocks;
    if (!Number.isInteger(blockOut)) throw new Error(`${name}: ${outDim} is not ${blocks} blocks`);
    const initial = tf.tidy(() =>
      tf.concat(
        Array.from(
          { length: blocks },
          () => this.uniformInit([inDim, blockOut], inDim, blockOut, opts.initScale ?? 1),
        ),
        1,
      )
    );
    return this.#layer(name, this.variable(`${name}.w`, initial), outDim, opts);
  }

  /** A kernel x kernel conv weight [k, k, inCh, outCh] (HWIO, tfjs layout). */
  conv(name: string, kernel: number, inCh: number, outCh: number, opts: LayerOptions = {}): Layer {
    const area = kernel * kernel;
    const w = this.variable(
      `${name}.w`,
      this.uniformInit(
        [kernel, kernel, inCh, outCh],
        area * inCh,
        area * outCh,
        opts.initScale ?? 1,
      ),
    );
    return this.#layer(name, w, outCh, opts);
  }

  /**
   * One power iteration per spectral-normalised weight: on the net's own weights and vectors, or
   * on another copy of them (`copy.params` holds the weights by parameter name, `copy.buffers` the
   * vectors by buffer name, e.g. the EMA weights and their own u and v).
   */
  updateSpectralNorm(copy?: SpectralNormCopy): void {
    for (const s of this.spectral) {
      if (!copy) {
        s.powerIteration();
        continue;
      }
      const w = copy.params.get(`${s.name}.w`);
      const u = copy.buffers.get(`${s.name}.sn_u`);
      const v = copy.buffers.get(`${s.name}.sn_v`);
      if (!w || !u || !v) throw new Error(`no copy of spectral-normalised layer ${s.name}`);
      powerIterationStep(w, u, v);
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    this.params.clear();
    this.buffers.clear();
    this.spectral.length = 0;
  }

  #layer(name: string, w: tf.Variable, outDim: number, opts: LayerOptions): Layer {
    const bias = (opts.bias ?? true) ? this.variable(`${name}.b`, tf.zeros([outDim])) : undefined;
    if (!(opts.spectralNorm ?? this.spectralNorm)) return { weight: () => w, bias };
    // A layer initialised near zero keeps its small norm: capped rather than rescaled to 1.
    const sn = spectralNormalize(name, w, this.buffers, this.rng, opts.initScale === 0);
    this.spectral.push(sn);
    return { weight: () => sn.normalized(), bias };
  }
}

/** x [B, in] -> [B, out]. */
export function dense(x: tf.Tensor, layer: Layer): tf.Tensor2D {
  const z = tf.matMul(x as tf.Tensor2D, layer.weight() as tf.Tensor2D) as tf.Tensor2D;
  return layer.bias ? tf.add(z, layer.bias) as tf.Tensor2D : z;
}
