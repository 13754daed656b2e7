/**
 * WGSL for the 2x2 average pool with ceil (edge windows average only the pixels inside the image)
 * and its gradient, four channels per invocation (C % 4 == 0).
 */
export const AVG_POOL_SHADER = `
fn main(index: i32) {
  if (index >= uniforms.invocations) { return; }
  let C4 = uniforms.xShape.w / 4;
  let H = uniforms.xShape.y;
  let W = uniforms.xShape.z;
  let c4 = index % C4;
  var r = index / C4;
  let j = r % uniforms.outShape.z;
  r = r / uniforms.outShape.z;
  let i = r % uniforms.outShape.y;
  let b = r / uniforms.outShape.y;
  var s = vec4<f32>(0.0);
  var n = 0.0;
  for (var di = 0; di < 2; di = di + 1) {
    for (var dj = 0; dj < 2; dj = dj + 1) {
      let h = 2 * i + di;
      let w = 2 * j + dj;
      if (h < H && w < W) {
        s = s + x[((b * H + h) * W + w) * C4 + c4];
        n = n + 1.0;
      }
    }
  }
  result[index] = s / n;
}`;

/** dx[b, h, w] = dy[b, h / 2, w / 2] / (pixels in that window). */
export const AVG_POOL_GRAD_SHADER = `
fn main(index: i32) {
  if (index >= uniforms.invocations) { return; }
  let C4 = uniforms.outShape.w / 4;
  let H = uniforms.outShape.y;
  let W = uniforms.outShape.z;
  let c4 = index % C4;
  var r = index / C4;
  let w = r % W;
  r = r / W;
  let h = r % H;
  let b = r / H;
  let i = h / 2;
  let j = w / 2;
  let rows = select(1.0, 2.0, 2 * i + 1 < H);
  let cols = select(1.0, 2.0, 2 * j + 1 < W);
  let OH = uniforms.dyShape.y;
  let OW = uniforms.dyShape.z;
  result[index] = dy[((b * OH + i) * OW + j) * C4 + c4] / (rows * cols);
}`;
