/**
 * Energy nets: shapes, an independent plain-JS re-computation of the ResNet and the MLP, input
 * gradients against finite differences, determinism, spectral norm, tensor leaks, and the
 * parameter count of the benchmark nets (as printed by bench/peer_torch.py).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { UserError } from "../lib/errors.ts";
import { JsRandom, Rng } from "../lib/rng.ts";
import { timestepEmbedding } from "../lib/nets/layers.ts";
import { avgPoolCeil } from "../lib/nets/resnet.ts";
import { spectralNormalize } from "../lib/nets/spectral_norm.ts";
import { createMlp } from "../lib/nets/mlp.ts";
import {
  countParams,
  createEnergyNet,
  type EnergyNet,
  type MlpConfig,
  type ResNetConfig,
} from "../lib/nets/mod.ts";

await initBackend("cpu");

function resnetConfig(over: Partial<ResNetConfig>): ResNetConfig {
  return {
    kind: "resnet",
    imageSize: 8,
    channels: 3,
    ch: 4,
    chMult: [1, 2],
    numResBlocks: 1,
    attention: false,
    activation: "lrelu",
    spectralNorm: false,
    ...over,
  };
}

const mlpConfig = (over: Partial<MlpConfig> = {}): MlpConfig => ({
  kind: "mlp",
  inputDim: 2,
  width: 8,
  depth: 3,
  tembDim: 6,
  activation: "swish",
  spectralNorm: false,
  ...over,
});

function jsNormals(n: number, seed: number, scale = 1): Float32Array {
  const r = new JsRandom(seed);
  return Float32Array.from({ length: n }, () => r.normal() * scale);
}

/**
 * Replaces every parameter with O(1/sqrt(fan_in)) noise and non-zero biases, so every path of the
 * net (including the near-zero-initialised residual convs) affects the energy.
 */
function randomizeParams(net: EnergyNet, seed: number): void {
  let k = 0;
  for (const [name, v] of net.params) {
    if (name.endsWith(".g")) {
      // The residual scales g: away from their initial 1, so a net that ignores them differs.
      v.assign(tf.tensor(jsNormals(v.size, seed + k++, 0.5).map((x) => 1 + x), v.shape));
      continue;
    }
    const isBias = name.endsWith(".b");
    const fanIn = isBias ? 1 : v.size / v.shape[v.shape.length - 1];
    // Residual branches' last convs stay small, as their near-zero init intends (this also keeps
    // their spectral norm below 1, where the capped normalisation differs from plain W / sigma).
    const branchEnd = name.endsWith(".conv2.w") ? 0.1 : 1;
    const scale = isBias ? 0.1 : branchEnd / Math.sqrt(fanIn);
    v.assign(tf.tensor(jsNormals(v.size, seed + k++, scale), v.shape));
  }
}

// ---------- plain-JS reference (float64, loops; shares no code with lib/nets) ----------

/** Dense tensor: NHWC for images, [B, C] for vectors. */
interface Arr {
  shape: number[];
  data: Float64Array;
}

const arr = (shape: number[], data?: ArrayLike<number>): Arr => ({
  shape,
  data: data ? Float64Array.from(data) : new Float64Array(shape.reduce((a, b) => a * b, 1)),
});

function actJs(x: Arr, kind: string): Arr {
  const f = kind === "lrelu"
    ? (v: number) => (v > 0 ? v : 0.2 * v)
    : (v: number) => v / (1 + Math.exp(-v));
  return arr(x.shape, x.data.map(f));
}

/** The weight the net uses: raw, or raw / sigma (capped at 1 for `bounded`) with sigma = v^T W u. */
function weightJs(net: EnergyNet, layer: string, bounded = false): Float64Array {
  const w = Float64Array.from(net.params.get(`${layer}.w`)!.dataSync());
  const u = net.buffers.get(`${layer}.sn_u`);
  if (!u) return w;
  const ud = u.dataSync(), vd = net.buffers.get(`${layer}.sn_v`)!.dataSync();
  const out = ud.length, inn = vd.length;
  let sigma = 0;
  for (let i = 0; i < inn; i++) {
    for (let j = 0; j < out; j++) sigma += vd[i] * w[i * out + j] * ud[j];
  }
  const scale = bounded ? Math.min(sigma + 1e-6, 1) / (sigma + 1e-6) : 1 / sigma;
  return w.map((x) => x * scale);
}

const biasJs = (net: EnergyNet, layer: string) =>
  Float64Array.from(net.params.get(`${layer}.b`)!.dataSync());

function denseJs(x: Arr, w: Float64Array, b: Float64Array | null, out: number): Arr {
  const [n, inn] = x.shape;
  const y = arr([n, out]);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < out; j++) {
      let s = b ? b[j] : 0;
      for (let i = 0; i < inn; i++) s += x.data[r * inn + i] * w[i * out + j];
      y.data[r * out + j] = s;
    }
  }
  return y;
}

/** Stride-1 conv with zero padding (k-1)/2; w is [k, k, cin, cout]. */
function convJs(x: Arr, w: Float64Array, b: Float64Array, k: number, cout: number): Arr {
  const [n, h, wd, cin] = x.shape;
  const p = (k - 1) / 2;
  const y = arr([n, h, wd, cout]);
  for (let bi = 0; bi < n; bi++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < wd; j++) {
        for (let co = 0; co < cout; co++) {
          let s = b[co];
          for (let di = 0; di < k; di++) {
            for (let dj = 0; dj < k; dj++) {
              const ii = i + di - p, jj = j + dj - p;
              if (ii < 0 || ii >= h || jj < 0 || jj >= wd) continue;
              for (let ci = 0; ci < cin; ci++) {
                s += x.data[((bi * h + ii) * wd + jj) * cin + ci] *
                  w[((di * k + dj) * cin + ci) * cout + co];
              }
            }
          }
          y.data[((bi * h + i) * wd + j) * cout + co] = s;
        }
      }
    }
  }
  return y;
}

/** 2x2 mean over the pixels inside the image; output ceil(h/2) x ceil(w/2). */
function poolJs(x: Arr): Arr {
  const [n, h, w, c] = x.shape;
  const oh = Math.ceil(h / 2), ow = Math.ceil(w / 2);
  const y = arr([n, oh, ow, c]);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let ch = 0; ch < c; ch++) {
          let s = 0, count = 0;
          for (let ii = 2 * i; ii < Math.min(2 * i + 2, h); ii++) {
            for (let jj = 2 * j; jj < Math.min(2 * j + 2, w); jj++) {
              s += x.data[((b * h + ii) * w + jj) * c + ch];
              count++;
            }
          }
          y.data[((b * oh + i) * ow + j) * c + ch] = s / count;
        }
      }
    }
  }
  return y;
}

function embJs(t: number[], dim: number): Arr {
  const half = Math.floor(dim / 2);
  const e = arr([t.length, dim]);
  t.forEach((tv, b) => {
    for (let i = 0; i < half; i++) {
      const a = tv * Math.exp(-Math.log(10000) * i / (half - 1));
      e.data[b * dim + i] = Math.sin(a);
      e.data[b * dim + half + i] = Math.cos(a);
    }
  });
  return e;
}

/** Single-head self-attention over all positions, residual: x + proj(softmax(q k^T / sqrt C) v). */
function attentionJs(x: Arr, net: EnergyNet, prefix: string): Arr {
  const [n, h, w, c] = x.shape;
  const p = h * w;
  const qkv = denseJs(
    arr([n * p, c], x.data),
    weightJs(net, `${prefix}.qkv`),
    biasJs(net, `${prefix}.qkv`),
    3 * c,
  );
  const mixed = arr([n * p, c]);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < p; i++) {
      const logits = new Float64Array(p);
      for (let j = 0; j < p; j++) {
        let s = 0;
        for (let ch = 0; ch < c; ch++) {
          s += qkv.data[(b * p + i) * 3 * c + ch] * qkv.data[(b * p + j) * 3 * c + c + ch];
        }
        logits[j] = s / Math.sqrt(c);
      }
      const m = Math.max(...logits);
      const ex = logits.map((l) => Math.exp(l - m));
      const z = ex.reduce((a, v) => a + v, 0);
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let j = 0; j < p; j++) s += (ex[j] / z) * qkv.data[(b * p + j) * 3 * c + 2 * c + ch];
        mixed.data[(b * p + i) * c + ch] = s;
      }
    }
  }
  const out = denseJs(
    mixed,
    weightJs(net, `${prefix}.proj_out`),
    biasJs(net, `${prefix}.proj_out`),
    c,
  );
  return arr(x.shape, x.data.map((v, i) => v + out.data[i]));
}

/** net_res_temb2 as bench/SPEC.md describes it, straight from the description. */
function resnetJs(net: EnergyNet, cfg: ResNetConfig, y: Arr, t: number[]): number[] {
  const act = (x: Arr) => actJs(x, cfg.activation);
  const n = t.length, ch = cfg.ch;
  let temb = denseJs(
    embJs(t, ch),
    weightJs(net, "temb.dense0"),
    biasJs(net, "temb.dense0"),
    4 * ch,
  );
  temb = denseJs(act(temb), weightJs(net, "temb.dense1"), biasJs(net, "temb.dense1"), 4 * ch);
  const aTemb = act(temb);
  let h = convJs(y, weightJs(net, "conv_in"), biasJs(net, "conv_in"), 3, ch);
  let width = ch;
  cfg.chMult.forEach((mult, l) => {
    const out = ch * mult;
    for (let b = 0; b < cfg.numResBlocks; b++) {
      const pre = `level${l}.block${b}`;
      let r = convJs(act(h), weightJs(net, `${pre}.conv1`), biasJs(net, `${pre}.conv1`), 3, out);
      const tp = denseJs(
        aTemb,
        weightJs(net, `${pre}.temb_proj`),
        biasJs(net, `${pre}.temb_proj`),
        out,
      );
      const hw = r.shape[1] * r.shape[2];
      r = arr(
        r.shape,
        r.data.map((v, i) => v + tp.data[Math.floor(i / (hw * out)) * out + (i % out)]),
      );
      r = convJs(act(r), weightJs(net, `${pre}.conv2`, true), biasJs(net, `${pre}.conv2`), 3, out);
      // Official res_use_scale: (conv2 + b) * g, g per output channel.
      const g = Float64Array.from(net.params.get(`${pre}.conv2.g`)!.dataSync());
      r = arr(r.shape, r.data.map((v, i) => v * g[i % out]));
      // Official res_conv_shortcut: a 3x3 conv where the width changes.
      const skip = width !== out
        ? convJs(h, weightJs(net, `${pre}.skip`), biasJs(net, `${pre}.skip`), 3, out)
        : h;
      h = arr(r.shape, r.data.map((v, i) => v + skip.data[i]));
      width = out;
      if (cfg.attention && h.shape[1] === 16) h = attentionJs(h, net, `level${l}.attn${b}`);
    }
    if (l !== cfg.chMult.length - 1) h = poolJs(h);
  });
  const c = h.shape[3], hw = h.shape[1] * h.shape[2];
  const head = denseJs(aTemb, weightJs(net, "temb.dense2"), biasJs(net, "temb.dense2"), c);
  return Array.from({ length: n }, (_, b) => {
    let s = 0;
    for (let p = 0; p < hw; p++) {
      for (let k = 0; k < c; k++) {
        s += Math.max(h.data[(b * hw + p) * c + k], 0) * head.data[b * c + k];
      }
    }
    return s;
  });
}

function mlpJs(net: EnergyNet, cfg: MlpConfig, y: Arr, t: number[]): number[] {
  const act = (x: Arr) => actJs(x, cfg.activation);
  const temb = act(
    denseJs(
      embJs(t, cfg.tembDim),
      weightJs(net, "temb.dense0"),
      biasJs(net, "temb.dense0"),
      cfg.tembDim,
    ),
  );
  const proj = denseJs(
    temb,
    weightJs(net, "temb.proj"),
    biasJs(net, "temb.proj"),
    cfg.depth * cfg.width,
  );
  let h = y;
  for (let l = 0; l < cfg.depth; l++) {
    const z = denseJs(h, weightJs(net, `hidden${l}`), null, cfg.width);
    const w = cfg.width;
    h = act(
      arr(
        z.shape,
        z.data.map((v, i) => v + proj.data[Math.floor(i / w) * cfg.depth * w + l * w + (i % w)]),
      ),
    );
  }
  const head = denseJs(temb, weightJs(net, "head"), biasJs(net, "head"), cfg.width);
  return t.map((_, b) => {
    let s = 0;
    for (let k = 0; k < cfg.width; k++) {
      s += h.data[b * cfg.width + k] * head.data[b * cfg.width + k];
    }
    return s;
  });
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol * scale})`,
    );
  }
}

// ---------- tests ----------

Deno.test("time embedding: half sin, half cos, frequencies exp(-ln(1e4) i / (half-1))", () => {
  for (const dim of [8, 7]) {
    const t = [0, 1, 5, 999];
    const got = tf.tidy(() => timestepEmbedding(tf.tensor1d(t, "int32"), dim).arraySync());
    const half = Math.floor(dim / 2);
    t.forEach((tv, b) => {
      for (let i = 0; i < half; i++) {
        const a = tv * Math.exp(-Math.log(10000) * i / (half - 1));
        assert.ok(Math.abs(got[b][i] - Math.sin(a)) < 1e-4, `sin t=${tv} i=${i}`);
        assert.ok(Math.abs(got[b][half + i] - Math.cos(a)) < 1e-4, `cos t=${tv} i=${i}`);
      }
      if (dim % 2 === 1) assert.equal(got[b][dim - 1], 0);
    });
  }
});

Deno.test("avgPoolCeil: 7x5 -> 4x3, edge windows average only inside pixels", () => {
  const data = jsNormals(2 * 7 * 5 * 3, 11);
  const got = tf.tidy(() => avgPoolCeil(tf.tensor4d(data, [2, 7, 5, 3])).dataSync());
  const want = poolJs(arr([2, 7, 5, 3], data));
  assert.deepEqual(want.shape, [2, 4, 3, 3]);
  assertClose(got, want.data, 1e-6, "pool");
});

Deno.test("resnet: energy shape [B] and finite for every image size and channel count", async () => {
  const cases: [number, number, number[], boolean][] = [
    [28, 1, [1, 2, 2], false],
    [28, 3, [1, 2, 2, 2], false],
    [32, 3, [1, 2, 2, 2], true],
    [32, 1, [1, 2], true],
    [64, 3, [1, 1, 2, 2], true],
    [128, 3, [1, 1, 1, 2], true],
    [128, 1, [1, 2], false],
  ];
  for (const [imageSize, channels, chMult, attention] of cases) {
    const net = createEnergyNet(
      resnetConfig({ imageSize, channels, chMult, attention }),
      new Rng(1),
    );
    const e = tf.tidy(() =>
      net.energy(
        tf.randomNormal([2, imageSize, imageSize, channels], 0, 1, "float32", 3),
        tf.tensor1d([0, 5], "int32"),
      )
    );
    assert.deepEqual(e.shape, [2], `${imageSize}x${channels}`);
    assert.ok((await e.data()).every(Number.isFinite), `${imageSize}x${channels} finite`);
    e.dispose();
    net.dispose();
  }
});

Deno.test("resnet: wrong input shapes and impossible configs are refused", () => {
  const net = createEnergyNet(resnetConfig({}), new Rng(0));
  assert.throws(
    () => net.energy(tf.zeros([2, 8, 8, 1]), tf.tensor1d([0, 0], "int32")),
    /expects y/,
  );
  assert.throws(() => net.energy(tf.zeros([2, 8, 8, 3]), tf.tensor1d([0], "int32")), /expects t/);
  net.dispose();
  // 28 -> 14 -> 7 -> 4 never reaches the 16x16 attention resolution.
  assert.throws(
    () =>
      createEnergyNet(
        resnetConfig({ imageSize: 28, chMult: [1, 2, 2, 2], attention: true }),
        new Rng(0),
      ),
    UserError,
  );
  assert.throws(() => createEnergyNet(resnetConfig({ ch: 2 }), new Rng(0)), UserError);
  assert.throws(() => createEnergyNet(resnetConfig({ chMult: [] }), new Rng(0)), UserError);
  assert.throws(
    () => createEnergyNet({ kind: "nope" } as unknown as MlpConfig, new Rng(0)),
    UserError,
  );
});

const referenceCases: [string, ResNetConfig][] = [
  [
    "lrelu, odd size 5 -> 3 -> 2, 2 blocks",
    resnetConfig({ imageSize: 5, channels: 2, chMult: [1, 2, 2], numResBlocks: 2 }),
  ],
  [
    "swish, spectral norm, attention at 16",
    resnetConfig({
      imageSize: 16,
      channels: 3,
      chMult: [1, 2],
      activation: "swish",
      spectralNorm: true,
      attention: true,
    }),
  ],
];

for (const [name, cfg] of referenceCases) {
  Deno.test(`resnet forward equals a plain-JS re-computation (${name})`, () => {
    const net = createEnergyNet(cfg, new Rng(5));
    randomizeParams(net, 100);
    for (let i = 0; i < 3; i++) net.updateSpectralNorm();
    const shape = [2, cfg.imageSize, cfg.imageSize, cfg.channels];
    const yData = jsNormals(shape.reduce((a, b) => a * b), 21);
    const t = [1, 4];
    const got = tf.tidy(() =>
      net.energy(tf.tensor(yData, shape), tf.tensor1d(t, "int32")).dataSync()
    );
    const want = resnetJs(net, cfg, arr(shape, yData), t);
    assert.ok(want.some((v) => Math.abs(v) > 1e-2), "reference energy is not trivially ~0");
    assertClose(got, want, 2e-5, "energy");
    net.dispose();
  });

  Deno.test(`resnet input gradient is finite and matches finite differences (${name})`, () => {
    const net = createEnergyNet(cfg, new Rng(6));
    randomizeParams(net, 200);
    for (let i = 0; i < 3; i++) net.updateSpectralNorm();
    const shape = [2, cfg.imageSize, cfg.imageSize, cfg.channels];
    const yData = jsNormals(shape.reduce((a, b) => a * b), 22);
    const t = [0, 3];
    const tT = tf.tensor1d(t, "int32");
    const grad = tf.tidy(() =>
      tf.grad((y: tf.Tensor) => tf.sum(net.energy(y, tT)))(tf.tensor(yData, shape)).dataSync()
    );
    tT.dispose();
    assert.ok(grad.every(Number.isFinite));
    // Central differences of the float64 reference: exact to ~1e-8, so the tolerance is tight.
    const eps = 1e-5;
    const total = (d: Float32Array | Float64Array) =>
      resnetJs(net, cfg, arr(shape, d), t).reduce((a, b) => a + b, 0);
    const coords = [0, 7, Math.floor(yData.length / 2) + 3, yData.length - 1];
    const fd = coords.map((i) => {
      const plus = Float64Array.from(yData), minus = Float64Array.from(yData);
      plus[i] += eps;
      minus[i] -= eps;
      return (total(plus) - total(minus)) / (2 * eps);
    });
    assert.ok(fd.some((g) => Math.abs(g) > 1e-3), "gradient is not trivially 0 at the probes");
    assertClose(coords.map((i) => grad[i]), fd, 1e-4, "dE/dy");
    net.dispose();
  });
}

Deno.test("mlp: shape, plain-JS re-computation, and input gradient vs finite differences", () => {
  for (
    const cfg of [
      mlpConfig(),
      mlpConfig({ activation: "lrelu", spectralNorm: true, depth: 1, tembDim: 8 }),
    ]
  ) {
    const net = createEnergyNet(cfg, new Rng(9));
    randomizeParams(net, 300);
    const yData = jsNormals(4 * 2, 23);
    const t = [0, 1, 2, 6];
    const tT = tf.tensor1d(t, "int32");
    const got = tf.tidy(() => net.energy(tf.tensor2d(yData, [4, 2]), tT).dataSync());
    assert.equal(got.length, 4);
    assertClose(got, mlpJs(net, cfg, arr([4, 2], yData), t), 2e-5, "mlp energy");
    const grad = tf.tidy(() =>
      tf.grad((y: tf.Tensor) => tf.sum(net.energy(y, tT)))(tf.tensor2d(yData, [4, 2])).dataSync()
    );
    const eps = 1e-5;
    const fd = Array.from(yData, (_, i) => {
      const plus = Float64Array.from(yData), minus = Float64Array.from(yData);
      plus[i] += eps;
      minus[i] -= eps;
      const sum = (d: Float64Array) =>
        mlpJs(net, cfg, arr([4, 2], d), t).reduce((a, b) => a + b, 0);
      return (sum(plus) - sum(minus)) / (2 * eps);
    });
    assertClose(grad, fd, 1e-4, "mlp dE/dy");
    tT.dispose();
    net.dispose();
  }
});

Deno.test("determinism: the same seed gives identical parameters and buffers, another seed not", () => {
  for (const cfg of [resnetConfig({ spectralNorm: true }), mlpConfig({ spectralNorm: true })]) {
    const a = createEnergyNet(cfg, new Rng(42));
    const b = createEnergyNet(cfg, new Rng(42));
    const c = createEnergyNet(cfg, new Rng(43));
    assert.deepEqual([...a.params.keys()], [...b.params.keys()]);
    for (const [name, v] of a.params) {
      assert.deepEqual(v.dataSync(), b.params.get(name)!.dataSync(), name);
    }
    for (const [name, v] of a.buffers) {
      assert.deepEqual(v.dataSync(), b.buffers.get(name)!.dataSync(), name);
    }
    const w = "temb.dense0.w";
    assert.notDeepEqual(a.params.get(w)!.dataSync(), c.params.get(w)!.dataSync());
    [a, b, c].forEach((n) => n.dispose());
  }
});

/** Largest singular value of a [rows, cols] matrix by many power iterations in float64. */
function topSingularValue(m: ArrayLike<number>, rows: number, cols: number): number {
  let x = Float64Array.from({ length: cols }, (_, i) => Math.sin(i + 1) + 1.5);
  let s = 0;
  for (let it = 0; it < 2000; it++) {
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[r] += m[r * cols + c] * x[c];
    const z = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) z[c] += m[r * cols + c] * y[r];
    const nz = Math.hypot(...z);
    s = Math.sqrt(nz);
    x = z.map((v) => v / nz);
  }
  return s;
}

Deno.test("spectral norm: the normalised weight's largest singular value is ~1 (capped variant: min(sigma, 1))", () => {
  const rng = new Rng(3);
  const buffers = new Map<string, tf.Variable>();
  // A conv weight [3, 3, 4, 6] (viewed as 36 x 6) and a dense one; large and small scales.
  for (
    const [shape, scale, bounded] of [
      [[3, 3, 4, 6], 1, false],
      [[10, 7], 3, false],
      [[10, 7], 3, true],
      [[3, 3, 4, 6], 1e-3, true],
    ] as [number[], number, boolean][]
  ) {
    const size = shape.reduce((a, b) => a * b);
    const raw = tf.variable(tf.tensor(jsNormals(size, size, scale), shape));
    const sn = spectralNormalize("w", raw, buffers, rng, bounded);
    for (let i = 0; i < 50; i++) sn.powerIteration();
    const cols = shape[shape.length - 1], rows = size / cols;
    const trueSigma = topSingularValue(raw.dataSync(), rows, cols);
    assert.ok(Math.abs(sn.sigma().dataSync()[0] - trueSigma) < 1e-3 * trueSigma, "sigma estimate");
    const normalized = tf.tidy(() => sn.normalized().dataSync());
    const expected = bounded ? Math.min(trueSigma, 1) : 1;
    const got = topSingularValue(normalized, rows, cols);
    assert.ok(
      Math.abs(got - expected) < 1e-3 * expected,
      `top singular value ${got} vs ${expected}`,
    );
    raw.dispose();
  }
  for (const v of buffers.values()) v.dispose();
});

Deno.test("spectral norm in the nets: buffers hold u and v per weight, non-trainable, sigma accurate", () => {
  const net = createEnergyNet(
    resnetConfig({ spectralNorm: true, attention: true, imageSize: 16, chMult: [1, 2] }),
    new Rng(4),
  );
  randomizeParams(net, 400);
  for (let i = 0; i < 100; i++) net.updateSpectralNorm();
  const snLayers = [...net.buffers.keys()].filter((k) => k.endsWith(".sn_u")).map((k) =>
    k.slice(0, -5)
  );
  // Every conv and dense except the head's time vector and the attention layers (as the official code).
  const expected = [...net.params.keys()]
    .filter((k) => k.endsWith(".w") && k !== "temb.dense2.w" && !k.includes(".attn"))
    .map((k) => k.slice(0, -2));
  assert.deepEqual(snLayers.sort(), expected.sort());
  for (const layer of snLayers) {
    const u = net.buffers.get(`${layer}.sn_u`)!, v = net.buffers.get(`${layer}.sn_v`)!;
    assert.equal(u.trainable, false);
    assert.equal(v.trainable, false);
    const w = net.params.get(`${layer}.w`)!;
    const cols = w.shape[w.shape.length - 1], rows = w.size / cols;
    const ud = u.dataSync(), vd = v.dataSync(), wd = w.dataSync();
    let sigma = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) sigma += vd[r] * wd[r * cols + c] * ud[c];
    }
    const trueSigma = topSingularValue(wd, rows, cols);
    assert.ok(Math.abs(sigma - trueSigma) < 2e-3 * trueSigma, `${layer}: ${sigma} vs ${trueSigma}`);
  }
  net.dispose();
});

Deno.test("no tensor leaks: energy, input gradient, spectral-norm update, dispose", () => {
  const before = tf.memory().numTensors;
  for (
    const cfg of [
      resnetConfig({ spectralNorm: true, attention: true, imageSize: 16 }),
      mlpConfig({ spectralNorm: true }),
    ]
  ) {
    const net = createEnergyNet(cfg, new Rng(8));
    const y = cfg.kind === "mlp" ? tf.zeros([3, 2]) : tf.zeros([3, 16, 16, 3]);
    const t = tf.tensor1d([0, 1, 2], "int32");
    const n0 = tf.memory().numTensors;
    tf.tidy(() => {
      net.energy(y, t);
    });
    assert.equal(tf.memory().numTensors, n0, "energy");
    tf.tidy(() => {
      tf.grad((yy: tf.Tensor) => tf.sum(net.energy(yy, t)))(y);
    });
    assert.equal(tf.memory().numTensors, n0, "input gradient");
    net.energy(y, t).dispose();
    assert.equal(tf.memory().numTensors, n0, "energy result disposed");
    net.updateSpectralNorm();
    assert.equal(tf.memory().numTensors, n0, "updateSpectralNorm");
    y.dispose();
    t.dispose();
    net.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "dispose");
});

/**
 * The parameter count of net_res_temb2, computed from SPEC.md's description (not from the net):
 * every conv and dense has a bias; the time MLP is ch -> 4ch -> 4ch plus the head's 4ch -> ch*m[-1].
 */
function expectedResNetParams(
  channels: number,
  ch: number,
  chMult: number[],
  blocks: number,
): number {
  const dense = (i: number, o: number) => i * o + o;
  const conv = (k: number, i: number, o: number) => k * k * i * o + o;
  const t = 4 * ch;
  let n = dense(ch, t) + dense(t, t) + dense(t, ch * chMult[chMult.length - 1]) +
    conv(3, channels, ch);
  let width = ch;
  for (const m of chMult) {
    for (let b = 0; b < blocks; b++) {
      const out = ch * m;
      // conv1, temb_proj, conv2 with its scale g, and a 3x3 shortcut where the width changes.
      n += conv(3, width, out) + dense(t, out) + conv(3, out, out) + out +
        (width !== out ? conv(3, width, out) : 0);
      width = out;
    }
  }
  return n;
}

Deno.test("parameter count: SPEC benchmark nets match the description and the PyTorch peer", () => {
  // `params` as printed by bench/peer_torch.py for each preset.
  const presets: [number, number, number, number[], number, number][] = [
    [32, 3, 32, [1, 2, 2, 2], 1, 299136], // cifar10-bench
    [28, 1, 32, [1, 2, 2], 1, 216384], // fmnist-bench
  ];
  for (const [imageSize, channels, ch, chMult, numResBlocks, peer] of presets) {
    assert.equal(expectedResNetParams(channels, ch, chMult, numResBlocks), peer);
    const net = createEnergyNet(
      resnetConfig({ imageSize, channels, ch, chMult, numResBlocks }),
      new Rng(0),
    );
    assert.equal(countParams(net), peer);
    net.dispose();
  }
  const mlp = createEnergyNet(mlpConfig({ width: 8, depth: 3, tembDim: 6 }), new Rng(0));
  // temb 6x6+6, per-layer time projections 6x24+24, hidden 2x8 + 8x8 + 8x8 (biases in the
  // projections), head 6x8+8.
  assert.equal(countParams(mlp), 42 + 168 + 16 + 64 + 64 + 56);
  mlp.dispose();
});

Deno.test("mlp fourier features: the first layer sees [y, sin(2^k pi y), cos(2^k pi y)]", async () => {
  const withFeatures = createMlp(mlpConfig({ fourier: 2, activation: "lrelu" }), new Rng(3));
  // The same parameters (same seed, same shapes) fed the features by hand.
  const byHand = createMlp(mlpConfig({ inputDim: 10, activation: "lrelu" }), new Rng(3));
  const y = tf.tensor2d(jsNormals(5 * 2, 4, 0.7), [5, 2]);
  const t = tf.tensor1d([0, 1, 2, 3, 4], "int32");
  const [y0, y1] = tf.split(y, 2, 1);
  const angles = [
    tf.mul(y0, Math.PI),
    tf.mul(y1, Math.PI),
    tf.mul(y0, 2 * Math.PI),
    tf.mul(y1, 2 * Math.PI),
  ];
  const manual = tf.concat(
    [y, ...angles.map((a) => tf.sin(a)), ...angles.map((a) => tf.cos(a))],
    1,
  );
  const a = await withFeatures.energy(y, t).data();
  const b = await byHand.energy(manual, t).data();
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(b[i])));
  }
  // Configs written before the field existed (no fourier) build the plain net.
  const { fourier: _, ...old } = mlpConfig();
  const plain = createMlp(old as MlpConfig, new Rng(3));
  assert.equal(plain.params.get("hidden0.w")!.shape[0], 2);
  assert.equal(withFeatures.params.get("hidden0.w")!.shape[0], 10);
  assert.throws(() => createMlp(mlpConfig({ fourier: -1 }), new Rng(3)), UserError);
  tf.dispose([y, t, y0, y1, manual, ...angles]);
  [withFeatures, byHand, plain].forEach((n) => n.dispose());
});
