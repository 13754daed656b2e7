/**
 * tfjs kernels for the TensorFlow op types of frozen image-classifier graphs such as
 * inception-2015-12-05 (NHWC layout only). Semantics follow the TensorFlow 1.x op definitions; where
 * tfjs has the same op the kernel is a direct call.
 */
import * as tf from "@tensorflow/tfjs";
import { type AttrValue, type NodeDef, tfjsDtype } from "./graphdef.ts";

/** What a kernel sees of its node: attributes, and constant inputs resolved to numbers. */
export interface OpContext {
  node: NodeDef;
  /** Values of input `index` when it is a constant (shapes, axes, sizes); throws otherwise. */
  constInput(index: number): number[];
}

/** A kernel runs inside tf.tidy: its temporaries are freed, only its result survives. */
export type OpKernel = (inputs: tf.Tensor[], ctx: OpContext) => tf.Tensor;

function attr(node: NodeDef, name: string): AttrValue | undefined {
  return node.attr?.[name];
}

function attrString(node: NodeDef, name: string, fallback: string): string {
  const s = attr(node, name)?.s;
  return s && s.length > 0 ? new TextDecoder().decode(s) : fallback;
}

function attrInts(node: NodeDef, name: string): number[] {
  return attr(node, name)?.list?.i ?? [];
}

function attrBool(node: NodeDef, name: string, fallback: boolean): boolean {
  return attr(node, name)?.b ?? fallback;
}

function checkNhwc(node: NodeDef): void {
  const format = attrString(node, "data_format", "NHWC");
  if (format !== "NHWC") {
    throw new Error(`${node.op} '${node.name}': data_format ${format} is not supported`);
  }
}

function padding(node: NodeDef): "same" | "valid" {
  const p = attrString(node, "padding", "VALID");
  if (p === "SAME") return "same";
  if (p === "VALID") return "valid";
  throw new Error(`${node.op} '${node.name}': padding ${p} is not supported`);
}

/** The spatial (H, W) part of an NHWC attribute list such as strides [1, sh, sw, 1]. */
function spatial(node: NodeDef, name: string, fallback: [number, number]): [number, number] {
  const v = attrInts(node, name);
  if (v.length === 0) return fallback;
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) {
    throw new Error(`${node.op} '${node.name}': ${name} [${v}] must be [1, h, w, 1]`);
  }
  return [v[1], v[2]];
}

function pool(inputs: tf.Tensor[], ctx: OpContext, kind: "max" | "avg"): tf.Tensor {
  checkNhwc(ctx.node);
  const x = inputs[0] as tf.Tensor4D;
  const size = spatial(ctx.node, "ksize", [1, 1]);
  const strides = spatial(ctx.node, "strides", [1, 1]);
  // tfjs averages over the in-bounds window only, like TensorFlow's SAME padding.
  return kind === "max"
    ? tf.maxPool(x, size, strides, padding(ctx.node))
    : tf.avgPool(x, size, strides, padding(ctx.node));
}

/** Reshape; a leading 1 in the target shape stands for the batch (see below). */
function reshape(inputs: tf.Tensor[], ctx: OpContext): tf.Tensor {
  const x = inputs[0];
  const target = ctx.constInput(1).slice();
  const known = target.reduce((p, s) => (s === -1 ? p : p * s), 1);
  const fits = target.includes(-1) ? x.size % known === 0 : known === x.size;
  // Frozen graphs exported for one image (inception-2015-12-05: pool_3/_reshape to [1, 2048])
  // hard-code batch 1; the reference FID/IS code makes every leading dimension of size 1 free
  // ("None") for batched use. The same here: a leading 1 that does not fit becomes -1.
  if (!fits && target[0] === 1 && !target.includes(-1)) target[0] = -1;
  return tf.reshape(x, target);
}

/** BatchNormWithGlobalNormalization: (x - mean) / sqrt(var + eps) [* gamma] + beta. */
export function batchNormScaleShift(
  mean: tf.Tensor,
  variance: tf.Tensor,
  beta: tf.Tensor,
  gamma: tf.Tensor,
  node: NodeDef,
): { scale: tf.Tensor; shift: tf.Tensor } {
  return tf.tidy(() => {
    const eps = attr(node, "variance_epsilon")?.f ?? 0;
    let scale = tf.rsqrt(tf.add(variance, eps));
    if (attrBool(node, "scale_after_normalization", false)) scale = tf.mul(scale, gamma);
    const shift = tf.sub(beta, tf.mul(mean, scale));
    return { scale, shift };
  });
}

export const KERNELS: Record<string, OpKernel> = {
  // Pass-through ops. A clone shares the data but has its own lifetime, so the executor may free
  // the input and the output independently. CheckNumerics' NaN check is left out (it would need a
  // device-to-host read per layer).
  Identity: ([x]) => tf.clone(x),
  CheckNumerics: ([x]) => tf.clone(x),
  StopGradient: ([x]) => tf.clone(x),
  Snapshot: ([x]) => tf.clone(x),
  Cast: ([x], ctx) => tf.cast(x, tfjsDtype(attr(ctx.node, "DstT")?.type)),
  ExpandDims: ([x], ctx) => tf.expandDims(x, ctx.constInput(1)[0]),
  Squeeze: ([x], ctx) => {
    const dims = attrInts(ctx.node, "squeeze_dims");
    return tf.squeeze(x, dims.length > 0 ? dims : undefined);
  },
  Reshape: reshape,
  ResizeBilinear: ([x], ctx) => {
    const [h, w] = ctx.constInput(1);
    return tf.image.resizeBilinear(
      tf.cast(x, "float32") as tf.Tensor4D,
      [h, w],
      attrBool(ctx.node, "align_corners", false),
      attrBool(ctx.node, "half_pixel_centers", false),
    );
  },
  Add: ([a, b]) => tf.add(a, b),
  AddV2: ([a, b]) => tf.add(a, b),
  BiasAdd: ([x, b], ctx) => {
    checkNhwc(ctx.node);
    return tf.add(x, b);
  },
  Sub: ([a, b]) => tf.sub(a, b),
  Mul: ([a, b]) => tf.mul(a, b),
  RealDiv: ([a, b]) => tf.div(a, b),
  Relu: ([x]) => tf.relu(x),
  Softmax: ([x]) => tf.softmax(x),
  MatMul: ([a, b], ctx) =>
    tf.matMul(
      a as tf.Tensor2D,
      b as tf.Tensor2D,
      attrBool(ctx.node, "transpose_a", false),
      attrBool(ctx.node, "transpose_b", false),
    ),
  Conv2D: ([x, filter], ctx) => {
    checkNhwc(ctx.node);
    return tf.conv2d(
      x as tf.Tensor4D,
      filter as tf.Tensor4D,
      spatial(ctx.node, "strides", [1, 1]),
      padding(ctx.node),
      "NHWC",
      spatial(ctx.node, "dilations", [1, 1]),
    );
  },
  MaxPool: (inputs, ctx) => pool(inputs, ctx, "max"),
  AvgPool: (inputs, ctx) => pool(inputs, ctx, "avg"),
  // Concat (TensorFlow <= 0.12): axis first. ConcatV2: axis last.
  Concat: (inputs, ctx) => tf.concat(inputs.slice(1), ctx.constInput(0)[0]),
  ConcatV2: (inputs, ctx) => tf.concat(inputs.slice(0, -1), ctx.constInput(inputs.length - 1)[0]),
  BatchNormWithGlobalNormalization: ([x, mean, variance, beta, gamma], ctx) => {
    const { scale, shift } = batchNormScaleShift(mean, variance, beta, gamma, ctx.node);
    return tf.add(tf.mul(x, scale), shift);
  },
};
