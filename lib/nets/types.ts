/** The energy-network contract shared by the 2D MLP and the image ResNet. */
import type * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import type { ChainResult, LangevinOptions } from "../samplers/langevin.ts";

/** A copy of a net's weights and spectral-norm vectors, by the net's own names. */
export interface SpectralNormCopy {
  params: Map<string, tf.Tensor>;
  buffers: Map<string, tf.Variable>;
}

export type Activation = "lrelu" | "swish";

export interface MlpConfig {
  kind: "mlp";
  /** Data dimension (2 for the toy densities). */
  inputDim: number;
  /** Hidden width. */
  width: number;
  /** Number of hidden layers. */
  depth: number;
  /** Width of the sinusoidal time embedding. */
  tembDim: number;
  /**
   * Fourier input features: sin and cos of 2^k pi y for k < fourier are appended to y (Tancik et
   * al. 2020); 0 (or absent, in configs written before it existed) feeds y alone.
   */
  fourier?: number;
  activation: Activation;
  spectralNorm: boolean;
}

export interface ResNetConfig {
  kind: "resnet";
  imageSize: number;
  channels: number;
  ch: number;
  chMult: number[];
  numResBlocks: number;
  /** Self-attention at the 16x16 resolution. */
  attention: boolean;
  activation: Activation;
  spectralNorm: boolean;
}

export type NetConfig = MlpConfig | ResNetConfig;

/**
 * f(y, t): a scalar per example, the unnormalised log-density at level t (higher is more likely).
 * Parameters and buffers are named so checkpoints and optimizers can address them stably.
 */
export interface EnergyNet {
  readonly config: NetConfig;
  /** Trainable parameters, by stable name. */
  readonly params: Map<string, tf.Variable>;
  /** Non-trainable state saved in checkpoints (spectral-norm power-iteration vectors). */
  readonly buffers: Map<string, tf.Variable>;
  /** y: [B, ...dataShape] float32; t: [B] int32 level indices. Returns [B]. */
  energy(y: tf.Tensor, t: tf.Tensor): tf.Tensor1D;
  /**
   * One power iteration per spectral-normalised weight (training steps only); no-op without it.
   * With `copy`, on another copy of the weights and vectors (by the same names) instead: the EMA
   * weights keep their own vectors this way.
   */
  updateSpectralNorm(copy?: SpectralNormCopy): void;
  /**
   * The net at fixed levels t [B], for the many f-and-gradient evaluations of one Langevin chain
   * (its weights fixed meanwhile), where the net has a faster way than differentiating `energy`
   * on the active backend (the MLP with native kernels); null or absent where it has none.
   */
  atLevels?(t: tf.Tensor): FixedLevelEnergy | null;
  /**
   * f(y, t) [B] and the gradient of sum_b cot_b f(y_b, t_b) with respect to every parameter (by
   * parameter name), in one pass where the net has one on the active backend (the MLP with native
   * kernels, without spectral norm); null or absent otherwise: callers use tfjs's autodiff.
   */
  energyParamGrad?(
    y: tf.Tensor,
    t: tf.Tensor,
    cot: tf.Tensor1D,
  ): { energy: tf.Tensor1D; grads: Map<string, tf.Tensor> } | null;
  dispose(): void;
}

/** See EnergyNet.atLevels. Holds tensors until disposed. */
export interface FixedLevelEnergy {
  /** f(y, t) [B] and df/dy, shaped as y. */
  energyAndGrad(y: tf.Tensor): { energy: tf.Tensor1D; grad: tf.Tensor };
  /**
   * A whole chain of `sampleLangevin` (same options, same random draws from `rng`, in the same
   * order) on log p(y_b) = scale_b f(y_b, t_b) - precision_b ||y_b - anchor_b||^2 / 2, in one
   * native call; absent where the net has none. `scale`, `precision` are [B], `s2` the squared
   * step sizes [B, 1, ...] as sampleLangevin takes them.
   */
  langevin?(chain: AnchoredChain): ChainResult;
  dispose(): void;
}

export interface AnchoredChain {
  y0: tf.Tensor;
  anchor: tf.Tensor;
  scale: tf.Tensor1D;
  precision: tf.Tensor1D;
  s2: tf.Tensor;
  rng: Rng;
  opts: LangevinOptions;
}
