/**
 * A tiny GraphDef with the interface (ExpandDims:0 -> pool_3:0, softmax/logits/MatMul) and the op
 * types of inception-2015-12-05, with random constant weights, for tests of the Inception loader.
 */
import { JsRandom } from "../../lib/rng.ts";
import {
  DataType,
  floatTensorProto,
  type GraphDef,
  intTensorProto,
  type NodeDef,
} from "../../lib/metrics/inception/graphdef.ts";

export const SIZE = 9; // the graph's ResizeBilinear target (299 in the real network)
const rng = new JsRandom(42);

function randn(count: number, scale = 1): number[] {
  return Array.from({ length: count }, () => scale * rng.normal());
}

/** Random weights of a small network with the op types of inception-2015-12-05. */
export const W = {
  conv: randn(3 * 3 * 3 * 4, 0.3),
  bn1: {
    mean: randn(4, 0.1),
    variance: randn(4).map((v) => 0.5 + v * v),
    beta: randn(4),
    gamma: randn(4),
  },
  mixedConv: randn(4 * 3, 0.5),
  bn2: {
    mean: randn(3, 0.1),
    variance: randn(3).map((v) => 0.5 + v * v),
    beta: randn(3),
    gamma: randn(3),
  },
  towerConv: randn(4 * 2, 0.5),
  towerBias: randn(2),
  softmaxW: randn(9 * 5),
  softmaxB: randn(5),
};

export const ints = (i: number[]) => ({ list: { i } });
export const str = (s: string) => ({ s: new TextEncoder().encode(s) });

function constNode(name: string, tensor: ReturnType<typeof floatTensorProto>): NodeDef {
  return { name, op: "Const", attr: { value: { tensor }, dtype: { type: tensor.dtype } } };
}

export function op(
  name: string,
  opType: string,
  input: string[],
  attr: NodeDef["attr"] = {},
): NodeDef {
  return { name, op: opType, input, attr };
}

function batchNormNodes(
  prefix: string,
  input: string,
  bn: typeof W.bn1,
  scaleAfter: boolean,
): NodeDef[] {
  const c = bn.mean.length;
  return [
    constNode(`${prefix}/batchnorm/moving_mean`, floatTensorProto(bn.mean, [c])),
    constNode(`${prefix}/batchnorm/moving_variance`, floatTensorProto(bn.variance, [c])),
    constNode(`${prefix}/batchnorm/beta`, floatTensorProto(bn.beta, [c])),
    constNode(`${prefix}/batchnorm/gamma`, floatTensorProto(bn.gamma, [c])),
    op(`${prefix}/batchnorm`, "BatchNormWithGlobalNormalization", [
      input,
      `${prefix}/batchnorm/moving_mean`,
      `${prefix}/batchnorm/moving_variance`,
      `${prefix}/batchnorm/beta`,
      `${prefix}/batchnorm/gamma`,
    ], { variance_epsilon: { f: 0.001 }, scale_after_normalization: { b: scaleAfter } }),
  ];
}

/** The test graph: the real network's interface and op types, tiny sizes. */
export function buildGraph(): GraphDef {
  const node: NodeDef[] = [
    // The JPEG branch that the reference code bypasses by feeding ExpandDims:0.
    {
      name: "DecodeJpeg/contents",
      op: "Const",
      attr: { value: { tensor: { dtype: DataType.STRING, stringVal: [new Uint8Array([1])] } } },
    },
    op("DecodeJpeg", "DecodeJpeg", ["DecodeJpeg/contents"]),
    op("Cast", "Cast", ["DecodeJpeg"], { DstT: { type: DataType.FLOAT } }),
    constNode("ExpandDims/dim", intTensorProto([0], [])),
    op("ExpandDims", "ExpandDims", ["Cast", "ExpandDims/dim"]),
    constNode("ResizeBilinear/size", intTensorProto([SIZE, SIZE], [2])),
    op("ResizeBilinear", "ResizeBilinear", ["ExpandDims", "ResizeBilinear/size"], {
      align_corners: { b: false },
    }),
    constNode("Sub/y", { dtype: DataType.FLOAT, tensorShape: {}, floatVal: [128] }),
    op("Sub", "Sub", ["ResizeBilinear", "Sub/y"]),
    constNode("Mul/y", { dtype: DataType.FLOAT, tensorShape: {}, floatVal: [1 / 128] }),
    op("Mul", "Mul", ["Sub", "Mul/y"]),
    constNode("conv/conv2d_params", floatTensorProto(W.conv, [3, 3, 3, 4])),
    op("conv/Conv2D", "Conv2D", ["Mul", "conv/conv2d_params"], {
      strides: ints([1, 2, 2, 1]),
      padding: str("VALID"),
    }),
    ...batchNormNodes("conv", "conv/Conv2D", W.bn1, true),
    op("conv/CheckNumerics", "CheckNumerics", ["conv/batchnorm"]),
    op("conv/control_dependency", "Identity", ["conv/batchnorm", "^conv/CheckNumerics"]),
    op("conv", "Relu", ["conv/control_dependency"]),
    op("pool", "MaxPool", ["conv"], {
      ksize: ints([1, 3, 3, 1]),
      strides: ints([1, 1, 1, 1]),
      padding: str("SAME"),
    }),
    constNode("mixed/conv/conv2d_params", floatTensorProto(W.mixedConv, [1, 1, 4, 3])),
    op("mixed/conv/Conv2D", "Conv2D", ["pool", "mixed/conv/conv2d_params"], {
      strides: ints([1, 1, 1, 1]),
      padding: str("SAME"),
    }),
    ...batchNormNodes("mixed/conv", "mixed/conv/Conv2D", W.bn2, false),
    op("mixed/conv", "Relu", ["mixed/conv/batchnorm"]),
    op("mixed/tower/pool", "AvgPool", ["pool"], {
      ksize: ints([1, 3, 3, 1]),
      strides: ints([1, 1, 1, 1]),
      padding: str("SAME"),
    }),
    constNode("mixed/tower/conv/conv2d_params", floatTensorProto(W.towerConv, [1, 1, 4, 2])),
    op(
      "mixed/tower/conv/Conv2D",
      "Conv2D",
      ["mixed/tower/pool", "mixed/tower/conv/conv2d_params"],
      {
        strides: ints([1, 1, 1, 1]),
        padding: str("SAME"),
      },
    ),
    constNode("mixed/tower/conv/bias", floatTensorProto(W.towerBias, [2])),
    op("mixed/tower/conv/BiasAdd", "BiasAdd", ["mixed/tower/conv/Conv2D", "mixed/tower/conv/bias"]),
    op("mixed/tower/conv", "Relu", ["mixed/tower/conv/BiasAdd"]),
    constNode("mixed/join/concat_dim", intTensorProto([3], [])),
    op("mixed/join", "Concat", ["mixed/join/concat_dim", "mixed/conv", "mixed/tower/conv"], {
      N: { i: 2 },
    }),
    constNode("mixed_1/join/axis", intTensorProto([-1], [])),
    op("mixed_1/join", "ConcatV2", ["mixed/join", "pool", "mixed_1/join/axis"], { N: { i: 2 } }),
    op("pool_3", "AvgPool", ["mixed_1/join"], {
      ksize: ints([1, 4, 4, 1]),
      strides: ints([1, 1, 1, 1]),
      padding: str("VALID"),
    }),
    // Exported for one image: the reshape hard-codes batch 1, as in the real graph.
    constNode("pool_3/_reshape/shape", intTensorProto([1, 9], [2])),
    op("pool_3/_reshape", "Reshape", ["pool_3", "pool_3/_reshape/shape"]),
    constNode("softmax/weights", floatTensorProto(W.softmaxW, [9, 5])),
    op("softmax/logits/MatMul", "MatMul", ["pool_3/_reshape", "softmax/weights"], {
      transpose_a: { b: false },
    }),
    constNode("softmax/biases", floatTensorProto(W.softmaxB, [5])),
    op("softmax/logits", "BiasAdd", ["softmax/logits/MatMul", "softmax/biases"]),
    op("softmax", "Softmax", ["softmax/logits"]),
  ];
  return { node };
}
