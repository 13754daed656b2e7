/**
 * The one mapping from the image models' float range [-1, 1] to 8-bit pixels, shared by the PNG
 * writers (png.ts) and the browser page's canvases (web/), so both show the same bytes.
 */

/** Maps [-1, 1] to 0..255: round((v + 1) * 127.5), clamped; NaN becomes 0. */
export function floatToByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b > 255 ? 255 : b >= 0 ? b : 0;
}
