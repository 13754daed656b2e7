import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { UserError } from "../lib/errors.ts";
import { JsRandom } from "../lib/rng.ts";
import { GraphExecutor } from "../lib/metrics/inception/executor.ts";
import {
  DataType,
  decodeGraphDef,
  decodeTensor,
  encodeGraphDef,
} from "../lib/metrics/inception/graphdef.ts";
import { buildGraph, ints, op, SIZE, str, W } from "./helpers/tiny_inception_graph.ts";
import { InceptionExtractor, loadInceptionExtractor } from "../lib/metrics/inception/extractor.ts";

await initBackend("cpu");

const rng = new JsRandom(43);

/** The same network written directly with tfjs ops (no graph, BN unfolded). */
function direct(images255: tf.Tensor4D) {
  return tf.tidy(() => {
    const bn = (x: tf.Tensor, p: typeof W.bn1, scaleAfter: boolean) => {
      const c = p.mean.length;
      const normed = tf.div(
        tf.sub(x, tf.tensor1d(p.mean)),
        tf.sqrt(tf.add(tf.tensor1d(p.variance), 0.001)),
      );
      return tf.add(scaleAfter ? tf.mul(normed, tf.tensor1d(p.gamma)) : normed, tf.tensor1d(p.beta))
        .reshape(
          [...x.shape.slice(0, 3), c],
        ) as tf.Tensor4D;
    };
    const x = tf.mul(
      tf.sub(tf.image.resizeBilinear(images255, [SIZE, SIZE], false), 128),
      1 / 128,
    ) as tf.Tensor4D;
    const conv = tf.relu(
      bn(tf.conv2d(x, tf.tensor4d(W.conv, [3, 3, 3, 4]), 2, "valid"), W.bn1, true),
    ) as tf.Tensor4D;
    const pool = tf.maxPool(conv, 3, 1, "same");
    const mixedConv = tf.relu(
      bn(tf.conv2d(pool, tf.tensor4d(W.mixedConv, [1, 1, 4, 3]), 1, "same"), W.bn2, false),
    );
    const tower = tf.relu(
      tf.add(
        tf.conv2d(
          tf.avgPool(pool, 3, 1, "same"),
          tf.tensor4d(W.towerConv, [1, 1, 4, 2]),
          1,
          "same",
        ),
        tf.tensor1d(W.towerBias),
      ),
    );
    const join = tf.concat([mixedConv, tower], 3);
    const join1 = tf.concat([join, pool], 3) as tf.Tensor4D;
    const pool3 = tf.avgPool(join1, 4, 1, "valid");
    const flat = tf.reshape(pool3, [-1, 9]) as tf.Tensor2D;
    const matmul = tf.matMul(flat, tf.tensor2d(W.softmaxW, [9, 5]));
    const softmax = tf.softmax(tf.add(matmul, tf.tensor1d(W.softmaxB)));
    return { join, pool3, matmul, softmax };
  });
}

async function assertClose(got: tf.Tensor, want: tf.Tensor, rel = 1e-5) {
  assert.deepEqual(got.shape, want.shape);
  const [g, w] = await Promise.all([got.data(), want.data()]);
  let scale = 0;
  for (const v of w) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < w.length; i++) {
    assert.ok(
      Math.abs(g[i] - w[i]) <= rel * Math.max(scale, 1e-6),
      `index ${i}: ${g[i]} vs ${w[i]}`,
    );
  }
}

/** A batch of 8-bit-valued images (as the reference feeds) at 7x7, smaller than the resize target. */
function images255(n: number): tf.Tensor4D {
  return tf.tensor4d(Array.from({ length: n * 7 * 7 * 3 }, () => rng.int(256)), [n, 7, 7, 3]);
}

Deno.test("GraphDef encode/decode keeps nodes, attributes and constants", () => {
  const graph = decodeGraphDef(encodeGraphDef(buildGraph()));
  const conv = graph.node.find((n) => n.name === "conv/Conv2D")!;
  assert.deepEqual(conv.input, ["Mul", "conv/conv2d_params"]);
  assert.deepEqual(conv.attr!.strides.list!.i, [1, 2, 2, 1]);
  assert.equal(new TextDecoder().decode(conv.attr!.padding.s), "VALID");
  const bn = graph.node.find((n) => n.name === "conv/batchnorm")!;
  assert.ok(Math.abs(bn.attr!.variance_epsilon.f! - 0.001) < 1e-9);
  assert.equal(bn.attr!.scale_after_normalization.b, true);
  const weights = decodeTensor(
    graph.node.find((n) => n.name === "softmax/weights")!.attr!.value.tensor!,
  );
  assert.deepEqual(weights.shape, [9, 5]);
  assert.deepEqual(Array.from(weights.values), Array.from(Float32Array.from(W.softmaxW)));
  // A repeated *_val field shorter than the shape repeats its last value (TensorFlow's convention).
  const filled = decodeTensor({
    dtype: DataType.FLOAT,
    tensorShape: { dim: [{ size: 3 }] },
    floatVal: [2],
  });
  assert.deepEqual(Array.from(filled.values), [2, 2, 2]);
});

Deno.test("GraphExecutor matches the same network written in tfjs (batch > 1 through the batch-1 reshape)", async () => {
  const executor = new GraphExecutor(decodeGraphDef(encodeGraphDef(buildGraph())));
  const x = images255(3);
  const [join, pool3, matmul, softmax] = executor.run({ "ExpandDims:0": x }, [
    "mixed/join:0",
    "pool_3:0",
    "softmax/logits/MatMul",
    "softmax:0",
  ]);
  const want = direct(x);
  await assertClose(join, want.join);
  await assertClose(pool3, want.pool3);
  await assertClose(matmul, want.matmul);
  await assertClose(softmax, want.softmax);
  tf.dispose([x, join, pool3, matmul, softmax, want.join, want.pool3, want.matmul, want.softmax]);
  executor.dispose();
});

Deno.test("GraphExecutor frees intermediates, never runs the bypassed JPEG branch, and names unsupported ops", () => {
  const executor = new GraphExecutor(buildGraph());
  const x = images255(2);
  assert.deepEqual(executor.unsupportedOps(["ExpandDims:0"], ["pool_3:0"]), []);
  assert.deepEqual(executor.unsupportedOps([], ["pool_3:0"]), ["DecodeJpeg"]);
  // Warm up: constants and folded batch norms are created once and kept (the failing run below
  // caches the constants it reached before the JPEG string constant).
  tf.dispose(executor.run({ "ExpandDims:0": x }, ["pool_3:0"]));
  assert.throws(() => executor.run({}, ["pool_3:0"]), /DecodeJpeg|dtype 7/);
  const before = tf.memory().numTensors;
  const [out] = executor.run({ "ExpandDims:0": x }, ["pool_3:0"]);
  assert.equal(tf.memory().numTensors, before + 1); // only the fetched tensor is new
  out.dispose();
  assert.throws(() => executor.run({}, ["pool_3:0"]), /DecodeJpeg|dtype 7/);
  assert.equal(tf.memory().numTensors, before); // a failed run frees what it computed
  x.dispose();
  executor.dispose();
});

Deno.test("AvgPool with SAME padding averages the in-bounds window only (TensorFlow semantics)", async () => {
  const executor = new GraphExecutor({
    node: [
      { name: "x", op: "Placeholder" },
      op("avg", "AvgPool", ["x"], {
        ksize: ints([1, 3, 3, 1]),
        strides: ints([1, 1, 1, 1]),
        padding: str("SAME"),
      }),
    ],
  });
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
  const [avg] = executor.run({ x }, ["avg"]);
  const v = await avg.data();
  assert.equal(v[0], 3); // mean of 1, 2, 4, 5 (TensorFlow); zero padding would give 12 / 9
  assert.equal(v[4], 5);
  assert.throws(() => executor.run({}, ["avg"]), /placeholder 'x' must be fed/);
  tf.dispose([x, avg]);
});

Deno.test("ResizeBilinear without align_corners uses TensorFlow 1.x's legacy sampling (src = dst * in / out)", async () => {
  const executor = new GraphExecutor({
    node: [
      { name: "x", op: "Placeholder" },
      {
        name: "size",
        op: "Const",
        attr: {
          value: {
            tensor: { dtype: DataType.INT32, tensorShape: { dim: [{ size: 2 }] }, intVal: [1, 4] },
          },
        },
      },
      op("resize", "ResizeBilinear", ["x", "size"], { align_corners: { b: false } }),
    ],
  });
  const x = tf.tensor4d([0, 10], [1, 1, 2, 1]);
  const [y] = executor.run({ x }, ["resize"]);
  assert.deepEqual(Array.from(await y.data()), [0, 5, 10, 10]);
  tf.dispose([x, y]);
  executor.dispose();
});

Deno.test("InceptionExtractor: pool_3 features and bias-free logits from [-1, 1] images", async () => {
  const extractor = new InceptionExtractor(decodeGraphDef(encodeGraphDef(buildGraph())));
  assert.equal(extractor.featureDim, 9);
  assert.equal(extractor.logitsDim, 5);
  const x255 = images255(4);
  const xUnit = tf.sub(tf.div(x255, 127.5), 1) as tf.Tensor4D; // what the models produce
  const out = await extractor.features(xUnit);
  const want = direct(x255);
  const pool = tf.tensor2d(out.pool, [4, 9]);
  await assertClose(pool, tf.reshape(want.pool3, [4, 9]));
  // improved-gan's IS logits: pool_3 times softmax/logits/MatMul's weights, without the bias.
  await assertClose(tf.tensor2d(out.logits!, [4, 5]), want.matmul);
  // Grey images are repeated over the three channels.
  const grey = tf.sub(
    tf.div(tf.tensor4d(Array.from({ length: 2 * 49 }, (_, i) => i % 256), [2, 7, 7, 1]), 127.5),
    1,
  ) as tf.Tensor4D;
  const greyOut = await extractor.features(grey);
  const rgbOut = await extractor.features(tf.tile(grey, [1, 1, 1, 3]) as tf.Tensor4D);
  assert.deepEqual(greyOut.pool, rgbOut.pool);
  tf.dispose([x255, xUnit, pool, grey, want.join, want.pool3, want.matmul, want.softmax]);
  extractor.dispose();
});

Deno.test("loadInceptionExtractor: missing, wrong or incomplete files are UserErrors with instructions", async () => {
  await assert.rejects(
    loadInceptionExtractor("/nonexistent/classify_image_graph_def.pb"),
    (e: unknown) =>
      e instanceof UserError && /inception-2015-12-05\.tgz/.test(e.message) &&
      /--inception/.test(e.message),
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/junk.pb`, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    await assert.rejects(loadInceptionExtractor(`${dir}/junk.pb`), UserError);
    const partial = buildGraph();
    partial.node = partial.node.filter((n) => n.name !== "softmax/logits/MatMul");
    await Deno.writeFile(`${dir}/partial.pb`, encodeGraphDef(partial));
    await assert.rejects(
      loadInceptionExtractor(`${dir}/partial.pb`),
      /lacks the Inception nodes softmax\/logits\/MatMul/,
    );
    await Deno.writeFile(`${dir}/ok.pb`, encodeGraphDef(buildGraph()));
    const extractor = await loadInceptionExtractor(`${dir}/ok.pb`);
    assert.equal(extractor.featureDim, 9);
    extractor.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
