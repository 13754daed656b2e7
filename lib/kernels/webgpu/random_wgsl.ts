/**
 * WGSL for standard normal noise drawn on the device: element i of a draw with seed s is
 * Box-Muller of two uniforms, each a counter-based hash of (s, 2i) and (s, 2i + 1) (Wellons's
 * "lowbias32" integer hash, applied twice with the seed mixed in between), so a draw needs no
 * state, no upload and no read-back, and the same seed gives the same values on every run.
 */
export const RANDOM_NORMAL_SHADER = `
fn lowbias32(v: u32) -> u32 {
  var x = v;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}
fn hash2(seed: u32, counter: u32) -> u32 {
  return lowbias32(lowbias32(counter) ^ seed);
}
fn main(index: i32) {
  if (index >= uniforms.invocations) { return; }
  let key = lowbias32(bitcast<u32>(uniforms.seed) ^ 0x9e3779b9u);
  let i = u32(index);
  // u1 in (0, 1] keeps the log finite; u2 in [0, 1). 24 bits each: exact in f32.
  let u1 = (f32(hash2(key, 2u * i) >> 8u) + 1.0) / 16777216.0;
  let u2 = f32(hash2(key, 2u * i + 1u) >> 8u) / 16777216.0;
  result[index] = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}`;
