/// <reference lib="dom" />
/**
 * One panel of an image model: every chain's current image at one level, as a square grid with
 * one-pixel gaps, in the [-1, 1] -> byte mapping of the CLI's PNGs (lib/io/pixels.ts). The
 * canvas holds the images at their own size; CSS scales it up without smoothing.
 */
import { floatToByte } from "../../lib/io/pixels.ts";

export class ImagePanel {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  readonly #shape: readonly [number, number, number];
  readonly #cols: number;

  /** `shape` is one image's [height, width, channels]. */
  constructor(canvas: HTMLCanvasElement, chains: number, shape: readonly [number, number, number]) {
    this.#shape = shape;
    this.#cols = Math.ceil(Math.sqrt(chains));
    const rows = Math.ceil(chains / this.#cols);
    canvas.width = this.#cols * (shape[1] + 1) + 1;
    canvas.height = rows * (shape[0] + 1) + 1;
    this.canvas = canvas;
    this.#ctx = canvas.getContext("2d")!;
    this.#ctx.fillStyle = "#20163a";
    this.#ctx.fillRect(0, 0, canvas.width, canvas.height);
  }

  /** Draws a batch [n, H, W, C] of values in [-1, 1] (clipped, as the CLI's grids). */
  draw(values: Float32Array): void {
    const [h, w, c] = this.#shape;
    const n = values.length / (h * w * c);
    const img = this.#ctx.createImageData(this.canvas.width, this.canvas.height);
    img.data.fill(255);
    for (let i = 0; i < img.data.length; i += 4) img.data.set([32, 22, 58], i);
    for (let k = 0; k < n; k++) {
      const x0 = 1 + (k % this.#cols) * (w + 1), y0 = 1 + Math.floor(k / this.#cols) * (h + 1);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const src = ((k * h + y) * w + x) * c, dst = 4 * ((y0 + y) * this.canvas.width + x0 + x);
          for (let ch = 0; ch < 3; ch++) {
            img.data[dst + ch] = floatToByte(values[src + (c === 1 ? 0 : ch)]);
          }
        }
      }
    }
    this.#ctx.putImageData(img, 0, 0);
  }
}
