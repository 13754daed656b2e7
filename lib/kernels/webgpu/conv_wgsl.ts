/**
 * WGSL for the energy net's stride-1 'same' NHWC convolutions (k x k, k odd), fused with what
 * surrounds them in a residual block, and for their two gradients:
 *
 *   forward      out = conv(act(x), w) + bias[c] + rowBias[b, c] + residual     (each term optional)
 *   input grad   dx  = act'(x) * conv(dy, w flipped, in/out swapped)
 *   filter grad  dw  = sum over pixels of act(x) (shifted by the tap) * dy
 *
 * act is the leaky ReLU (or the identity). Output channels go four at a time (vec4, so Co % 4 == 0);
 * input channels four at a time too when Ci % 4 == 0 (a 4x4 weight block per tap is one mat4x4),
 * one at a time otherwise (the 1- or 3-channel image going into conv_in). Each forward and input-
 * gradient invocation computes `pixels` neighbouring pixels of one row, so the k x k window's inputs
 * and weights are loaded once for all of them; the filter gradient gives each output block a
 * workgroup that strides over the pixels and then reduces in workgroup memory.
 */
import { WORKGROUP_INDEX } from "./program.ts";

export interface ConvShaderOptions {
  kernel: number;
  /** Input channels in groups of four (Ci % 4 == 0). */
  vecIn: boolean;
  leaky: boolean;
  /** Pixels along W computed by one forward or input-gradient invocation. */
  pixels: number;
}

export interface ForwardShaderOptions extends ConvShaderOptions {
  bias: boolean;
  rowBias: boolean;
  residual: boolean;
}

const ACT_SNIPPET = `
fn act4(v: vec4<f32>) -> vec4<f32> { return select(v * uniforms.slope, v, v >= vec4<f32>(0.0)); }
fn act1(v: f32) -> f32 { return select(v * uniforms.slope, v, v >= 0.0); }
fn actGrad4(v: vec4<f32>) -> vec4<f32> {
  return select(vec4<f32>(uniforms.slope), vec4<f32>(1.0), v > vec4<f32>(0.0));
}
fn actGrad1(v: f32) -> f32 { return select(uniforms.slope, 1.0, v > 0.0); }
`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * WGSL loading tap row a's k weight blocks for input channel (group) ci and output group co4: with
 * vecIn a mat4x4 whose columns are the four input channels' rows of four outputs, else one vec4.
 */
function weightBlocks(k: number, vecIn: boolean): string {
  return range(k).map((bb) => {
    const base = `((a * ${k} + ${bb}) * Ci + ci${vecIn ? " * 4" : ""}) * Co4 + co4`;
    return vecIn
      ? `let wb${bb} = ${base};
      let m${bb} = mat4x4<f32>(w[wb${bb}], w[wb${bb} + Co4], w[wb${bb} + 2 * Co4], w[wb${bb} + 3 * Co4]);`
      : `let m${bb} = w[${base}];`;
  }).join("\n      ");
}

/** Decodes `index` into batch b, row h, first column w0 and channel group `group` of `groups`. */
function pixelTileDecode(groups: string, pixels: number): string {
  return `
  let H = uniforms.outShape.y;
  let W = uniforms.outShape.z;
  let tiles = (W + ${pixels - 1}) / ${pixels};
  let group = index % ${groups};
  var rest = index / ${groups};
  let w0 = (rest % tiles) * ${pixels};
  rest = rest / tiles;
  let h = rest % H;
  let b = rest / H;`;
}

/** out[b, h, w0 + p, 4 co..] for p < pixels. */
export function forwardShader(o: ForwardShaderOptions): string {
  const k = o.kernel, pad = (k - 1) / 2, P = o.pixels, cols = P + k - 1;
  const act = (v: string) => o.leaky ? (o.vecIn ? `act4(${v})` : `act1(${v})`) : v;
  const accs = range(P).map((p) => `var acc${p} = vec4<f32>(0.0);`).join("\n  ");
  const loadInputs = range(cols).map((c) =>
    `let x${c} = ${act(`loadX(rowBase, w0 + ${c - pad}, ci)`)};`
  ).join("\n      ");
  const weights = weightBlocks(k, o.vecIn);
  // mat * vec (vecIn): the sum over the four input channels of weight row * input value.
  const fma = range(P).flatMap((p) =>
    range(k).map((bb) => `acc${p} = acc${p} + m${bb} * x${p + bb};`)
  ).join("\n      ");
  const store = range(P).map((p) => `
  if (w0 + ${p} < W) {
    let o = ((b * H + h) * W + w0 + ${p}) * Co4 + co4;
    var v = acc${p};
    ${o.rowBias ? "v = v + rowBias[b * Co4 + co4];" : ""}
    ${o.residual ? "v = residual[o] + v;" : ""}
    ${o.bias ? "v = v + bias[co4];" : ""}
    result[o] = v;
  }`).join("");
  const xType = o.vecIn ? "vec4<f32>" : "f32";
  return `
${ACT_SNIPPET}
fn loadX(rowBase: i32, wi: i32, ci: i32) -> ${xType} {
  if (wi < 0 || wi >= uniforms.xShape.z) { return ${xType}(0.0); }
  return x[(rowBase + wi) * ${o.vecIn ? "(uniforms.xShape.w / 4)" : "uniforms.xShape.w"} + ci];
}
fn main(index: i32) {
  if (index >= uniforms.invocations) { return; }
  let Co4 = uniforms.outShape.w / 4;
  let Ci = uniforms.xShape.w;
  ${pixelTileDecode("Co4", o.pixels)}
  let co4 = group;
  ${accs}
  for (var a = 0; a < ${k}; a = a + 1) {
    let hi = h + a - ${pad};
    if (hi < 0 || hi >= H) { continue; }
    let rowBase = (b * H + hi) * W;
    for (var ci = 0; ci < ${o.vecIn ? "Ci / 4" : "Ci"}; ci = ci + 1) {
      ${loadInputs}
      ${weights}
      ${fma}
    }
  }
  ${store}
}`;
}

/** dx[b, h, w0 + p, ci group] for p < pixels: a correlation of dy with the flipped filter. */
export function inputGradShader(o: ConvShaderOptions): string {
  const k = o.kernel, pad = (k - 1) / 2, P = o.pixels, cols = P + k - 1;
  const t = o.vecIn ? "vec4<f32>" : "f32";
  const accs = range(P).map((p) => `var acc${p} = ${t}(0.0);`).join("\n  ");
  // Output column w0 + p meets dy column w0 + p + pad - bb, i.e. loaded column c = p + k-1 - bb.
  const loads = range(cols).map((c) => `let d${c} = loadDy(rowBase, w0 + ${c - pad}, co4);`)
    .join("\n      ");
  const weights = weightBlocks(k, o.vecIn);
  const fma = range(P).flatMap((p) =>
    range(k).map((bb) => {
      const d = `d${p + k - 1 - bb}`;
      // vec * mat: component i is dot(d, column i) = sum over co of dy * w[.., ci + i, co].
      return o.vecIn
        ? `acc${p} = acc${p} + ${d} * m${bb};`
        : `acc${p} = acc${p} + dot(${d}, m${bb});`;
    })
  ).join("\n      ");
  const ciGroups = o.vecIn ? "(Ci / 4)" : "Ci";
  const store = range(P).map((p) => `
  if (w0 + ${p} < W) {
    let o = ((b * H + h) * W + w0 + ${p}) * ${ciGroups} + ci;
    ${o.leaky ? `result[o] = acc${p} * actGrad${o.vecIn ? 4 : 1}(x[o]);` : `result[o] = acc${p};`}
  }`).join("");
  return `
${ACT_SNIPPET}
fn loadDy(rowBase: i32, wo: i32, co4: i32) -> vec4<f32> {
  if (wo < 0 || wo >= uniforms.outShape.z) { return vec4<f32>(0.0); }
  return dy[(rowBase + wo) * (uniforms.dyShape.w / 4) + co4];
}
fn main(index: i32) {
  if (index >= uniforms.invocations) { return; }
  let Co4 = uniforms.dyShape.w / 4;
  let Ci = uniforms.outShape.w;
  ${pixelTileDecode(ciGroups, o.pixels)}
  let ci = group;
  ${accs}
  for (var a = 0; a < ${k}; a = a + 1) {
    let ho = h + ${pad} - a;
    if (ho < 0 || ho >= H) { continue; }
    let rowBase = (b * H + ho) * W;
    for (var co4 = 0; co4 < Co4; co4 = co4 + 1) {
      ${loads}
      ${weights}
      ${fma}
    }
  }
  ${store}
}`;
}

/**
 * dw[a, bb, ci group, 4 co..]: one workgroup per output block (flat workgroup index), its
 * invocations striding over the B*H rows, then a tree reduction in workgroup memory.
 */
export function filterGradShader(o: ConvShaderOptions, workgroupSize: number): string {
  const k = o.kernel, pad = (k - 1) / 2;
  const rows = o.vecIn ? 4 : 1;
  const xv = o.leaky ? (o.vecIn ? "act4(xr)" : "act1(xr)") : "xr";
  const accs = range(rows).map((i) => `var acc${i} = vec4<f32>(0.0);`).join("\n  ");
  const fma = o.vecIn
    ? range(rows).map((i) => `acc${i} = acc${i} + xv[${i}] * d;`).join("\n      ")
    : `acc0 = acc0 + xv * d;`;
  const share = range(rows).map((i) => `red[l * ${rows} + ${i}] = acc${i};`).join("\n  ");
  const reduce = range(rows).map((i) =>
    `red[l * ${rows} + ${i}] = red[l * ${rows} + ${i}] + red[(l + s) * ${rows} + ${i}];`
  ).join("\n      ");
  const write = range(rows).map((i) =>
    `result[((a * ${k} + bb) * Ci + ci${o.vecIn ? ` * 4 + ${i}` : ""}) * Co4 + co4] = red[${i}];`
  ).join("\n    ");
  return `
${ACT_SNIPPET}
var<workgroup> red: array<vec4<f32>, ${workgroupSize * rows}>;
fn main(index: i32) {
  let l = i32(localIndex);
  let g = ${WORKGROUP_INDEX};
  let Ci = uniforms.xShape.w;
  let Co4 = uniforms.dyShape.w / 4;
  let ciGroups = ${o.vecIn ? "Ci / 4" : "Ci"};
  let groups = ${k * k} * ciGroups * Co4;
  let co4 = g % Co4;
  let ci = (g / Co4) % ciGroups;
  let tap = g / (Co4 * ciGroups);
  let a = tap / ${k};
  let bb = tap % ${k};
  let H = uniforms.xShape.y;
  let W = uniforms.xShape.z;
  // Whole rows per invocation: the tap's valid columns are known per row, no division per pixel.
  let rows = select(0, uniforms.xShape.x * H, g < groups);
  let wStart = max(0, ${pad} - bb);
  let wEnd = min(W, W + ${pad} - bb);
  ${accs}
  for (var r = l; r < rows; r = r + ${workgroupSize}) {
    let hi = r % H + a - ${pad};
    if (hi < 0 || hi >= H) { continue; }
    let xRow = ((r / H) * H + hi) * W + bb - ${pad};
    for (var w = wStart; w < wEnd; w = w + 1) {
      let xr = x[(xRow + w) * ciGroups + ci];
      let xv = ${xv};
      let d = dy[(r * W + w) * Co4 + co4];
      ${fma}
    }
  }
  ${share}
  for (var s = ${workgroupSize / 2}; s > 0; s = s / 2) {
    workgroupBarrier();
    if (l < s) {
      ${reduce}
    }
  }
  if (l == 0 && g < groups) {
    ${write}
  }
}`;
}
