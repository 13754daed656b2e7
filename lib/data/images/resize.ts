/**
 * Center crops and resizes of uint8 HWC images (for CelebA and LSUN).
 *
 * Resizing is separable, one axis at a time, with float intermediates and one rounding at the end:
 * - shrinking an axis uses area averaging (a box filter): output pixel j covers the input interval
 *   [j*s, (j+1)*s) with s = in/out, and each input pixel weighs by its overlap with it. This is
 *   TensorFlow's `resize_area` / PIL's BOX: no aliasing, exact on uniform regions.
 * - enlarging an axis uses bilinear interpolation with half-pixel centers (src = (j + 1/2) s - 1/2,
 *   clamped at the edges), as in `align_corners=False`.
 */

/** Crops the centered `ch` x `cw` window; offsets round down, e.g. CelebA 218x178 -> rows 39.., cols 19... */
export function centerCrop(
  pixels: Uint8Array,
  h: number,
  w: number,
  c: number,
  ch: number,
  cw: number,
): Uint8Array {
  if (ch > h || cw > w) throw new RangeError(`crop ${ch}x${cw} larger than image ${h}x${w}`);
  const top = Math.floor((h - ch) / 2);
  const left = Math.floor((w - cw) / 2);
  const out = new Uint8Array(ch * cw * c);
  for (let y = 0; y < ch; y++) {
    const src = ((top + y) * w + left) * c;
    out.set(pixels.subarray(src, src + cw * c), y * cw * c);
  }
  return out;
}

/** Sparse 1-D resampling weights: output j reads inputs index[start[j]..start[j+1]) with weight. */
interface AxisWeights {
  start: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const idx: number[] = [];
  const wts: number[] = [];
  const start = new Int32Array(outSize + 1);
  const s = inSize / outSize;
  for (let j = 0; j < outSize; j++) {
    start[j] = idx.length;
    if (outSize <= inSize) {
      // Area: overlap of input pixel i, [i, i+1), with [j*s, (j+1)*s), divided by s.
      const lo = j * s;
      const hi = (j + 1) * s;
      for (let i = Math.floor(lo); i < Math.min(Math.ceil(hi), inSize); i++) {
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        if (overlap > 1e-12) {
          idx.push(i);
          wts.push(overlap / s);
        }
      }
    } else {
      // Bilinear, half-pixel centers.
      const src = Math.min(Math.max((j + 0.5) * s - 0.5, 0), inSize - 1);
      const i0 = Math.floor(src);
      const f = src - i0;
      idx.push(i0);
      wts.push(1 - f);
      if (f > 0) {
        idx.push(i0 + 1);
        wts.push(f);
      }
    }
  }
  start[outSize] = idx.length;
  return { start, index: Int32Array.from(idx), weight: Float64Array.from(wts) };
}

/** Resizes an HWC uint8 image to oh x ow (area when shrinking, bilinear when enlarging). */
export function resize(
  pixels: Uint8Array,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
): Uint8Array {
  if (oh === h && ow === w) return pixels.slice();
  const wx = axisWeights(w, ow);
  const wy = axisWeights(h, oh);
  // Horizontal pass: h x ow x c floats.
  const mid = new Float64Array(h * ow * c);
  for (let y = 0; y < h; y++) {
    for (let j = 0; j < ow; j++) {
      const dst = (y * ow + j) * c;
      for (let t = wx.start[j]; t < wx.start[j + 1]; t++) {
        const src = (y * w + wx.index[t]) * c;
        const wt = wx.weight[t];
        for (let k = 0; k < c; k++) mid[dst + k] += wt * pixels[src + k];
      }
    }
  }
  // Vertical pass, then one rounding.
  const out = new Uint8Array(oh * ow * c);
  const acc = new Float64Array(ow * c);
  for (let i = 0; i < oh; i++) {
    acc.fill(0);
    for (let t = wy.start[i]; t < wy.start[i + 1]; t++) {
      const row = wy.index[t] * ow * c;
      const wt = wy.weight[t];
      for (let q = 0; q < ow * c; q++) acc[q] += wt * mid[row + q];
    }
    const base = i * ow * c;
    for (let q = 0; q < ow * c; q++) out[base + q] = Math.min(255, Math.max(0, Math.round(acc[q])));
  }
  return out;
}

/** Center square crop of the short side, then resize to size x size (LSUN). */
export function centerSquareResize(
  pixels: Uint8Array,
  h: number,
  w: number,
  c: number,
  size: number,
): Uint8Array {
  const side = Math.min(h, w);
  return resize(centerCrop(pixels, h, w, c, side, side), side, side, c, size, size);
}
