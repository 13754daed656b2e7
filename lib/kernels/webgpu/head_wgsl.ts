/**
 * WGSL for the energy net's head, f[b] = sum over h, w, c of relu(x[b, h, w, c]) * v[b, c]
 * (sum pooling, then the dot product with the time vector), and its input gradient
 * dx = df[b] * v[b, c] where x > 0, else 0. Channels four at a time (C % 4 == 0).
 */
import { WORKGROUP_INDEX } from "./program.ts";

/** One workgroup per example: its invocations stride over H*W*C/4, then reduce. */
export function headShader(workgroupSize: number): string {
  return `
var<workgroup> red: array<f32, ${workgroupSize}>;
fn main(index: i32) {
  let l = i32(localIndex);
  let b = ${WORKGROUP_INDEX};
  let C4 = uniforms.xShape.w / 4;
  let n = select(0, uniforms.xShape.y * uniforms.xShape.z * C4, b < uniforms.xShape.x);
  var acc = 0.0;
  for (var i = l; i < n; i = i + ${workgroupSize}) {
    let c4 = i % C4;
    acc = acc + dot(max(x[b * n + i], vec4<f32>(0.0)), v[b * C4 + c4]);
  }
  red[l] = acc;
  for (var s = ${workgroupSize / 2}; s > 0; s = s / 2) {
    workgroupBarrier();
    if (l < s) { red[l] = red[l] + red[l + s]; }
  }
  if (l == 0 && b < uniforms.xShape.x) { result[b] = red[0]; }
}`;
}

/** dx, four channels per invocation. */
export const HEAD_GRAD_SHADER = `
fn main(index: i32) {
  if (index >= uniforms.invocations) { return; }
  let C4 = uniforms.xShape.w / 4;
  let perExample = uniforms.xShape.y * uniforms.xShape.z * C4;
  let b = index / perExample;
  let c4 = index % C4;
  result[index] = select(vec4<f32>(0.0), df[b] * v[b * C4 + c4], x[index] > vec4<f32>(0.0));
}`;
