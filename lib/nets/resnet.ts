/**
 * The image energy net: the official DRL `net_res_temb2` (Gao et al. 2021, network.py), as
 * bench/SPEC.md describes it, without normalization layers:
 *
 *   temb = dense1(act(dense0(sinusoid(t, ch))))                       [B, 4ch]
 *   h = conv_in(x); per level l: numResBlocks residual blocks of width ch*chMult[l]
 *       (+ self-attention after each block at 16x16), then a 2x2 average pool (not after the last)
 *   f(x, t) = < sum_{H,W} relu(h), dense2(act(temb)) >
 *
 * Residual block (network.py resnet_block with the official flags res_use_scale and
 * res_conv_shortcut, both True in config.py):
 *   h = conv1(act(x)) + temb_proj(act(temb));  h = (conv2(act(h)) + b2) * g;  out = skip(x) + h,
 * with g a learned per-channel scale (nn.conv2d_0 use_scale: initialised to 1, trainable, outside
 * the spectral norm) and skip a spectrally normalised 3x3 conv when the width changes. Input NHWC.
 * docs/official_net.md lists each part beside the official file and function.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { EnergyNet, ResNetConfig } from "./types.ts";
import { avgPoolCeil } from "../kernels/avg_pool.ts";
import { energyHead } from "../kernels/energy_head.ts";
import { fusedConv } from "../kernels/fused_conv.ts";
import {
  activate,
  dense,
  type Layer,
  LEAKY_RELU_SLOPE,
  ParamFactory,
  timestepEmbedding,
} from "./layers.ts";

const weightOf = (layer: Layer) => layer.weight() as tf.Tensor4D;

/** The resolution where the optional self-attention sits (as in DDPM and DRL). */
export const ATTENTION_RESOLUTION = 16;

interface ResBlock {
  conv1: Layer;
  tembProj: Layer;
  conv2: Layer;
  /** The per-channel scale g on conv2's output, [out]. */
  scale: tf.Variable;
  skip?: Layer;
  attention?: Attention;
}

/** DDPM's AttnBlock (Ho et al. 2020) without its group norm: one head over all H*W positions. */
interface Attention {
  qkv: Layer;
  projOut: Layer;
}

/** Spatial sizes per level: a 2x2 pool with ceil between levels (28 -> 14 -> 7 -> 4). */
export function levelResolutions(imageSize: number, levels: number): number[] {
  const sizes = [imageSize];
  for (let l = 1; l < levels; l++) sizes.push(Math.ceil(sizes[l - 1] / 2));
  return sizes;
}

function validate(c: ResNetConfig): void {
  const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;
  if (!positiveInt(c.imageSize)) {
    throw new UserError(`imageSize must be a positive integer, got ${c.imageSize}`);
  }
  if (!positiveInt(c.channels)) {
    throw new UserError(`channels must be a positive integer, got ${c.channels}`);
  }
  if (!Number.isInteger(c.ch) || c.ch < 4) {
    throw new UserError(`ch must be an integer >= 4, got ${c.ch}`);
  }
  if (c.chMult.length === 0 || !c.chMult.every(positiveInt)) {
    throw new UserError(`chMult must be a non-empty list of positive integers, got [${c.chMult}]`);
  }
  if (!positiveInt(c.numResBlocks)) {
    throw new UserError(`numResBlocks must be a positive integer, got ${c.numResBlocks}`);
  }
  if (c.activation !== "lrelu" && c.activation !== "swish") {
    throw new UserError(`activation must be lrelu or swish, got '${c.activation}'`);
  }
  const sizes = levelResolutions(c.imageSize, c.chMult.length);
  if (c.attention && !sizes.includes(ATTENTION_RESOLUTION)) {
    throw new UserError(
      `attention sits at ${ATTENTION_RESOLUTION}x${ATTENTION_RESOLUTION}, which this net never reaches ` +
        `(resolutions ${sizes.join(", ")}); turn attention off or change imageSize/chMult`,
    );
  }
}

/**
 * 2x2 average pool, stride 2, ceil for odd sizes: an edge window averages only the pixels inside
 * the image (PyTorch avg_pool2d(ceil_mode=True), TF 'SAME'); lives with the kernels, which give it
 * a native implementation where one is installed.
 */
export { avgPoolCeil };

export function createResNet(config: ResNetConfig, rng: Rng): EnergyNet {
  validate(config);
  const cfg: ResNetConfig = Object.freeze({
    ...config,
    chMult: Object.freeze([...config.chMult]),
  }) as ResNetConfig;
  const { ch, chMult, numResBlocks, activation, channels, imageSize } = cfg;
  const act = (x: tf.Tensor) => activate(x, activation);
  const tembDim = 4 * ch;
  const f = new ParamFactory(rng, cfg.spectralNorm);

  // Creation order fixes the parameter stream: keep it stable.
  const temb0 = f.dense("temb.dense0", ch, tembDim);
  const temb1 = f.dense("temb.dense1", tembDim, tembDim);
  // The head's time vector is never normalised in the official code: it sets the energy's scale.
  const tembOut = f.dense("temb.dense2", tembDim, ch * chMult[chMult.length - 1], {
    spectralNorm: false,
  });
  const convIn = f.conv("conv_in", 3, channels, ch);

  const sizes = levelResolutions(imageSize, chMult.length);
  const levels: ResBlock[][] = [];
  let width = ch;
  chMult.forEach((mult, l) => {
    const blocks: ResBlock[] = [];
    const out = ch * mult;
    for (let b = 0; b < numResBlocks; b++) {
      const prefix = `level${l}.block${b}`;
      const block: ResBlock = {
        conv1: f.conv(`${prefix}.conv1`, 3, width, out),
        tembProj: f.dense(`${prefix}.temb_proj`, tembDim, out),
        conv2: f.conv(`${prefix}.conv2`, 3, out, out, { initScale: 0 }),
        scale: f.variable(`${prefix}.conv2.g`, tf.ones([out])),
        // nn.conv2d's default filter is 3x3: the official shortcut is not a 1x1 "nin".
        skip: width !== out ? f.conv(`${prefix}.skip`, 3, width, out) : undefined,
      };
      if (cfg.attention && sizes[l] === ATTENTION_RESOLUTION) {
        // The official attention layers are never spectrally normalised.
        block.attention = {
          qkv: f.dense(`level${l}.attn${b}.qkv`, out, 3 * out, { spectralNorm: false, blocks: 3 }),
          projOut: f.dense(`level${l}.attn${b}.proj_out`, out, out, {
            initScale: 0,
            spectralNorm: false,
          }),
        };
      }
      blocks.push(block);
      width = out;
    }
    levels.push(blocks);
  });

  // With the leaky ReLU, each convolution takes its block's pre-activation, time bias, residual
  // and bias in one fusedConv (one WGSL kernel each way on WebGPU; tfjs ops elsewhere).
  const leaky = activation === "lrelu" ? { leakySlope: LEAKY_RELU_SLOPE } : {};
  const preAct = (x: tf.Tensor4D) => activation === "lrelu" ? x : act(x) as tf.Tensor4D;

  const resBlock = (x: tf.Tensor4D, actTemb: tf.Tensor2D, block: ResBlock): tf.Tensor4D => {
    // conv1's bias rides on the small [B, C] time projection instead of the full feature map.
    const tBias = tf.add(dense(actTemb, block.tembProj), block.conv1.bias!) as tf.Tensor2D;
    const h = fusedConv(preAct(x), weightOf(block.conv1), { ...leaky, rowBias: tBias });
    const skip = block.skip ? fusedConv(x, weightOf(block.skip)) : x;
    // (conv(a, W) + b) * g = conv(a, W g) + b g: g folds into the small weight and bias tensors,
    // so the fused kernel still takes conv2, its bias and the residual in one pass.
    const scaledW = tf.mul(weightOf(block.conv2), block.scale) as tf.Tensor4D;
    const scaledB = tf.mul(block.conv2.bias!, block.scale);
    const bias = block.skip ? tf.add(scaledB, block.skip.bias!) : scaledB;
    return fusedConv(preAct(h), scaledW, {
      ...leaky,
      residual: skip,
      bias: bias as tf.Tensor1D,
    });
  };

  const attention = (x: tf.Tensor4D, a: Attention): tf.Tensor4D => {
    const [b, hh, ww, c] = x.shape;
    const qkv = tf.reshape(dense(tf.reshape(x, [b * hh * ww, c]), a.qkv), [b, hh * ww, 3 * c]);
    const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
    const weights = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c)));
    const h = dense(tf.reshape(tf.matMul(weights, v), [b * hh * ww, c]), a.projOut);
    return tf.add(x, tf.reshape(h, [b, hh, ww, c]));
  };

  const energy = (y: tf.Tensor, t: tf.Tensor): tf.Tensor1D => {
    if (
      y.rank !== 4 || y.shape[1] !== imageSize || y.shape[2] !== imageSize ||
      y.shape[3] !== channels
    ) {
      throw new Error(
        `resnet energy expects y [B, ${imageSize}, ${imageSize}, ${channels}], got [${y.shape}]`,
      );
    }
    if (t.rank !== 1 || t.shape[0] !== y.shape[0]) {
      throw new Error(`resnet energy expects t [${y.shape[0]}], got [${t.shape}]`);
    }
    return tf.tidy(() => {
      const temb = dense(act(dense(timestepEmbedding(t, ch), temb0)), temb1);
      const actTemb = act(temb) as tf.Tensor2D;
      let h = fusedConv(y as tf.Tensor4D, weightOf(convIn), {
        bias: convIn.bias! as tf.Tensor1D,
      });
      levels.forEach((blocks, l) => {
        for (const block of blocks) {
          h = resBlock(h, actTemb, block);
          if (block.attention) h = attention(h, block.attention);
        }
        if (l !== levels.length - 1) h = avgPoolCeil(h);
      });
      return energyHead(h, dense(actTemb, tembOut));
    });
  };

  return {
    config: cfg,
    params: f.params,
    buffers: f.buffers,
    energy,
    updateSpectralNorm: (copy) => f.updateSpectralNorm(copy),
    dispose: () => f.dispose(),
  };
}
