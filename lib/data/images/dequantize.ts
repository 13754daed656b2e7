/**
 * Uniform dequantisation of 8-bit images for likelihoods (Theis, van den Oord & Bethge 2016,
 * "A note on the evaluation of generative models", Sec. 3.1), as flow models report bits/dim, in
 * the model's data range.
 *
 * Pixel p in 0..255 becomes x = (p + u - 1/2) / 127.5 - 1 with u ~ U[0, 1): the bin of width
 * 1 / 127.5 centred on the value training saw, p / 127.5 - 1 (scalePixel). With D values per
 * image, v = p + u has density p_x(x) / 127.5^D (the log-Jacobian of v -> x is -D log 127.5), and
 * by Jensen
 *
 *   log P(p) = log E_u[p_v(p + u)] >= E_u[log p_x(x)] - D log 127.5,
 *
 * so bits/dim = -(log p_x(x) - D log 127.5) / (D ln 2) bounds the discrete data's code length.
 */
import type { JsRandom } from "../../rng.ts";

/** The width of one 8-bit level in the model's [-1, 1] range. */
export const PIXEL_BIN = 1 / 127.5;

/** Writes the dequantised pixels (uint8, any layout) into `out` at `offset`, u drawn from `rng`. */
export function dequantize(
  pixels: Uint8Array,
  rng: JsRandom,
  out: Float32Array,
  offset = 0,
): void {
  for (let i = 0; i < pixels.length; i++) {
    out[offset + i] = (pixels[i] + rng.float() - 0.5) / 127.5 - 1;
  }
}

/**
 * Bits per dimension of a log-density (nats per example) of `dims` values each, for data
 * discretised into bins of `binWidth` (PIXEL_BIN for 8-bit images); binWidth 1 gives plain
 * -log p / (D ln 2), for continuous data.
 */
export function bitsPerDim(logLikNats: number, dims: number, binWidth = 1): number {
  return -(logLikNats + dims * Math.log(binWidth)) / (dims * Math.LN2);
}
