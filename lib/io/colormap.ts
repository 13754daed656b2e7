/**
 * The viridis colormap (perceptually uniform, readable in grey and by colour-blind readers;
 * van der Walt & Smith, matplotlib 2.0), from a degree-6 polynomial fit per channel (Matt Zucker's
 * fit of the matplotlib table). Its largest deviation from the table is about 0.02 per channel.
 */
const COEFFICIENTS: readonly (readonly [number, number, number])[] = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

/** 256 RGB entries, 3 bytes each. */
export const VIRIDIS_LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = COEFFICIENTS.length - 1; k >= 0; k--) v = v * t + COEFFICIENTS[k][c];
      lut[3 * i + c] = Math.max(0, Math.min(255, Math.round(255 * v)));
    }
  }
  return lut;
})();

/** Writes the viridis colour of t (clamped to [0, 1]) at out[offset..offset + 2]. */
export function viridisInto(t: number, out: Uint8Array, offset: number): void {
  const i = 3 * Math.round(255 * Math.min(1, Math.max(0, t)));
  out[offset] = VIRIDIS_LUT[i];
  out[offset + 1] = VIRIDIS_LUT[i + 1];
  out[offset + 2] = VIRIDIS_LUT[i + 2];
}
