/**
 * The 2D energy net: an MLP conditioned on the level t the way the DRL ResNet is
 * (Gao et al. 2021, net_res_temb2):
 *
 *   temb = act(dense0(sinusoid(t, tembDim)))
 *   h_0 = [y, sin(2^k pi y), cos(2^k pi y) for k < fourier];  h_l = act(W_l h_{l-1} + proj_l(temb)),  l = 1..depth   (width each)
 *   f(y, t) = < h_depth, head(temb) >
 *
 * Each layer's time projection doubles as its bias, and all `depth` projections are one matmul;
 * the time-dependent head lets each level have its own energy scale. Few, small ops: this runs tens
 * of thousands of times per training run on CPU.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { EnergyNet, FixedLevelEnergy, MlpConfig } from "./types.ts";
import { activate, dense, LEAKY_RELU_SLOPE, ParamFactory, timestepEmbedding } from "./layers.ts";
import { mlpEnergyGrad, mlpEnergyGradAvailable, mlpLangevin } from "../kernels/mlp_energy.ts";
import { mlpParamGrad, mlpParamGradAvailable } from "../kernels/mlp_param_grad.ts";

function validate(c: MlpConfig): void {
  const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;
  if (!positiveInt(c.inputDim)) {
    throw new UserError(`inputDim must be a positive integer, got ${c.inputDim}`);
  }
  if (!positiveInt(c.width)) {
    throw new UserError(`width must be a positive integer, got ${c.width}`);
  }
  if (!positiveInt(c.depth)) {
    throw new UserError(`depth must be a positive integer, got ${c.depth}`);
  }
  if (!Number.isInteger(c.tembDim) || c.tembDim < 4) {
    throw new UserError(`tembDim must be an integer >= 4, got ${c.tembDim}`);
  }
  const fourier = c.fourier ?? 0;
  if (!Number.isInteger(fourier) || fourier < 0 || fourier > 16) {
    throw new UserError(`fourier must be an integer in 0..16, got ${c.fourier}`);
  }
  if (c.activation !== "lrelu" && c.activation !== "swish") {
    throw new UserError(`activation must be lrelu or swish, got '${c.activation}'`);
  }
}

export function createMlp(config: MlpConfig, rng: Rng): EnergyNet {
  validate(config);
  const cfg: MlpConfig = Object.freeze({ ...config });
  const { inputDim, width, depth, tembDim, activation } = cfg;
  const fourier = cfg.fourier ?? 0;
  const featureDim = inputDim * (1 + 2 * fourier);
  // Frequencies 2^k pi, one row per octave, each repeated over the input's coordinates.
  const freqs = fourier === 0 ? null : tf.tensor2d(
    Array.from({ length: fourier * inputDim }, (_, i) => 2 ** Math.floor(i / inputDim) * Math.PI),
    [1, fourier * inputDim],
  );
  const features = (y: tf.Tensor): tf.Tensor => {
    if (!freqs) return y;
    const arg = tf.mul(tf.tile(y, [1, fourier]), freqs);
    return tf.concat([y, tf.sin(arg), tf.cos(arg)], 1);
  };
  const act = (x: tf.Tensor) => activate(x, activation);
  const f = new ParamFactory(rng, cfg.spectralNorm);

  // Creation order fixes the parameter stream: keep it stable.
  const temb0 = f.dense("temb.dense0", tembDim, tembDim);
  const tembProj = f.dense("temb.proj", tembDim, depth * width, { blocks: depth });
  const hidden = Array.from(
    { length: depth },
    (_, l) => f.dense(`hidden${l}`, l === 0 ? featureDim : width, width, { bias: false }),
  );
  // As in the ResNet head, the output's time vector is not normalised: it sets the energy scale.
  const head = f.dense("head", tembDim, width, { spectralNorm: false });

  const checkShapes = (y: tf.Tensor, t: tf.Tensor) => {
    if (y.rank !== 2 || y.shape[1] !== inputDim) {
      throw new Error(`mlp energy expects y [B, ${inputDim}], got [${y.shape}]`);
    }
    if (t.rank !== 1 || t.shape[0] !== y.shape[0]) {
      throw new Error(`mlp energy expects t [${y.shape[0]}], got [${t.shape}]`);
    }
  };
  const energy = (y: tf.Tensor, t: tf.Tensor): tf.Tensor1D => {
    checkShapes(y, t);
    return tf.tidy(() => {
      const temb = act(dense(timestepEmbedding(t, tembDim), temb0));
      const proj = depth === 1
        ? [dense(temb, tembProj)]
        : tf.split(dense(temb, tembProj), depth, 1);
      let h: tf.Tensor = features(y);
      for (let l = 0; l < depth; l++) h = act(tf.add(dense(h, hidden[l]), proj[l]));
      return tf.sum(tf.mul(h, dense(temb, head)), 1) as tf.Tensor1D;
    });
  };

  // The time terms (every layer's projection and the head's vector) and the weights, evaluated
  // once per chain; each step is then one native kernel (lib/kernels/mlp_energy.ts).
  const atLevels = (t: tf.Tensor): FixedLevelEnergy | null => {
    if (!mlpEnergyGradAvailable()) return null;
    const fixed = tf.tidy(() => {
      const temb = act(dense(timestepEmbedding(t, tembDim), temb0));
      return {
        proj: dense(temb, tembProj),
        head: dense(temb, head),
        weights: hidden.map((layer) => tf.clone(layer.weight())),
      };
    });
    const attrs = { activation, fourier, slope: LEAKY_RELU_SLOPE };
    return {
      energyAndGrad: (y) => {
        checkShapes(y, t);
        return mlpEnergyGrad(y, fixed.weights, fixed.proj, fixed.head, attrs);
      },
      langevin: ({ y0, anchor, scale, precision, s2, rng, opts }) => {
        checkShapes(y0, t);
        const batch = y0.shape[0];
        // The draws of sampleLangevin, in its order: per step a normal [B, D], then (MALA) a
        // uniform [B].
        const noises: tf.Tensor[] = [], uniforms: tf.Tensor[] = [];
        for (let k = 0; k < opts.steps; k++) {
          noises.push(rng.normal(y0.shape));
          if (opts.sampler === "mala") uniforms.push(rng.uniform([batch]));
        }
        const stepSize = tf.reshape(s2, [batch]);
        try {
          return mlpLangevin(
            fixed,
            {
              y0,
              anchor,
              scale,
              precision,
              stepSize,
              noises,
              uniforms: opts.sampler === "mala" ? uniforms : null,
            },
            { ...attrs, noiseScale: opts.noiseScale ?? 1 },
          );
        } finally {
          tf.dispose([...noises, ...uniforms, stepSize]);
        }
      },
      dispose: () => tf.dispose([fixed.proj, fixed.head, ...fixed.weights]),
    };
  };

  // The training loss's backward pass in one native kernel (lib/kernels/mlp_param_grad.ts). Not
  // with spectral norm: its gradient would also flow through each weight's normalisation.
  const energyParamGrad = (y: tf.Tensor, t: tf.Tensor, cot: tf.Tensor1D) => {
    if (cfg.spectralNorm || !mlpParamGradAvailable()) return null;
    checkShapes(y, t);
    const emb = tf.tidy(() => timestepEmbedding(t, tembDim));
    try {
      const out = mlpParamGrad(emb, y, cot, {
        roles: {
          tembW: temb0.weight(),
          tembB: temb0.bias!,
          projW: tembProj.weight(),
          projB: tembProj.bias!,
          headW: head.weight(),
          headB: head.bias!,
        },
        hidden: hidden.map((layer) => layer.weight()),
      }, { activation, fourier, slope: LEAKY_RELU_SLOPE });
      const { roles } = out.grads;
      const grads = new Map<string, tf.Tensor>([
        ["temb.dense0.w", roles.tembW],
        ["temb.dense0.b", roles.tembB],
        ["temb.proj.w", roles.projW],
        ["temb.proj.b", roles.projB],
        ...out.grads.hidden.map((g, l) => [`hidden${l}.w`, g] as [string, tf.Tensor]),
        ["head.w", roles.headW],
        ["head.b", roles.headB],
      ]);
      return { energy: out.energy, grads };
    } finally {
      emb.dispose();
    }
  };

  return {
    config: cfg,
    params: f.params,
    buffers: f.buffers,
    energy,
    atLevels,
    energyParamGrad,
    updateSpectralNorm: (copy) => f.updateSpectralNorm(copy),
    dispose: () => {
      f.dispose();
      freqs?.dispose();
    },
  };
}
