import assert from "node:assert/strict";
import {
  decodePng,
  encodePng,
  floatBatchToTiles,
  floatToByte,
  imageGrid,
  readPng,
  writePng,
} from "../lib/io/png.ts";
import { UserError } from "../lib/errors.ts";
import { plotToy2dFigure, writeToy2dFigure } from "../lib/io/plot2d.ts";
import { VIRIDIS_LUT } from "../lib/io/colormap.ts";

function pattern(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 37 + salt * 11 + (i >> 3)) & 255;
  return out;
}

Deno.test("PNG write/read round trip keeps every byte for 1, 3 and 4 channels", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const channels of [1, 3, 4] as const) {
      const width = 7, height = 5;
      const pixels = pattern(width * height * channels, channels);
      const path = `${dir}/img${channels}.png`;
      await writePng(path, pixels, width, height, channels);
      const back = await readPng(path);
      assert.equal(back.width, width);
      assert.equal(back.height, height);
      assert.equal(back.channels, channels);
      assert.deepEqual(back.pixels, pixels);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic write leaves only the target file, replaces an old one, creates folders", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/fig.png`;
    await writePng(path, new Uint8Array(4 * 4 * 3).fill(10), 4, 4, 3);
    await writePng(path, new Uint8Array(2 * 3).fill(200), 2, 3, 1);
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
    assert.deepEqual(names, ["fig.png"]);
    if (Deno.build.os !== "windows") assert.equal(Deno.statSync(path).mode! & 0o777, 0o644);
    const back = await readPng(path);
    assert.equal(back.width, 2);
    assert.equal(back.height, 3);
    assert.deepEqual(back.pixels, new Uint8Array(6).fill(200));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed write removes its temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A folder sits where the file should go: the final rename fails after the temp file exists.
    await Deno.mkdir(`${dir}/taken.png`);
    await Deno.writeTextFile(`${dir}/taken.png/keep`, "x");
    await assert.rejects(writePng(`${dir}/taken.png`, new Uint8Array(3), 1, 1, 3));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["taken.png"]);
    // Wrong buffer size is refused before anything is written.
    assert.throws(() => encodePng(new Uint8Array(5), 2, 2, 1), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readPng of a missing or corrupt file is a UserError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(readPng(`${dir}/missing.png`), UserError);
    await Deno.writeTextFile(`${dir}/bad.png`, "not a png");
    await assert.rejects(readPng(`${dir}/bad.png`), UserError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("float [-1, 1] maps to bytes with clamping", () => {
  assert.equal(floatToByte(-1), 0);
  assert.equal(floatToByte(1), 255);
  assert.equal(floatToByte(0), 128);
  assert.equal(floatToByte(-3), 0);
  assert.equal(floatToByte(7), 255);
  assert.equal(floatToByte(NaN), 0);
});

Deno.test("imageGrid places tiles row by row with padding, grey tiles become RGB", () => {
  // Three 2x2 grey tiles with values 0 (-1), 128 (0) and 255 (1), in a 2x2 grid with pad 1.
  const data = new Float32Array(3 * 2 * 2 * 1);
  data.fill(-1, 0, 4);
  data.fill(0, 4, 8);
  data.fill(1, 8, 12);
  const grid = imageGrid({ data, shape: [3, 2, 2, 1] }, 2, 2, 1, 77);
  assert.equal(grid.width, 2 * 2 + 3);
  assert.equal(grid.height, 2 * 2 + 3);
  assert.equal(grid.channels, 3);
  const at = (x: number, y: number) => {
    const i = (y * grid.width + x) * 3;
    return [grid.pixels[i], grid.pixels[i + 1], grid.pixels[i + 2]];
  };
  assert.deepEqual(at(0, 0), [77, 77, 77]); // border
  assert.deepEqual(at(1, 1), [0, 0, 0]); // tile 0
  assert.deepEqual(at(2, 2), [0, 0, 0]);
  assert.deepEqual(at(3, 1), [77, 77, 77]); // gap between tiles
  assert.deepEqual(at(4, 1), [128, 128, 128]); // tile 1, top right
  assert.deepEqual(at(1, 4), [255, 255, 255]); // tile 2, bottom left
  assert.deepEqual(at(4, 4), [77, 77, 77]); // missing tile 3 stays padding

  // RGB tiles keep their channels.
  const tiles = floatBatchToTiles({ data: new Float32Array([1, -1, 0]), shape: [1, 1, 1, 3] });
  const rgb = imageGrid(tiles, 1, 1, 0);
  assert.deepEqual([...rgb.pixels], [255, 0, 128]);
  // The encoded grid decodes to the same pixels.
  const back = decodePng(encodePng(grid.pixels, grid.width, grid.height, 3));
  assert.deepEqual(back.pixels, grid.pixels);
});

Deno.test("plotToy2dFigure draws scatters and density heatmaps where the points are", async () => {
  const n = 8;
  // A density peaked in the top-right cell of an 8x8 grid over [-1, 1]^2 (y grows with the row).
  const grid = new Float32Array(n * n).fill(-50);
  grid[(n - 1) * n + (n - 1)] = 0;
  const withNaN = new Float32Array(n * n).fill(0);
  withNaN[0] = NaN; // bottom-left cell
  const size = 64;
  const figure = plotToy2dFigure({
    data: new Float32Array([0.5, 0.5]),
    samples: new Float32Array([-0.5, -0.5, NaN, 0]),
    levelDensities: [{ label: "t=0", grid, n }, { label: "nan", grid: withNaN, n }],
    lo: -1,
    hi: 1,
    panelSize: size,
    columns: 2,
  });
  assert.equal(figure.channels, 3);
  assert.equal(figure.pixels.length, figure.width * figure.height * 3);
  assert.equal(figure.width, 8 + 2 * (size + 8));
  // Panel origins: 8 px margin, a 13 px label strip (7 px font + 6) above each panel.
  const origin = (i: number) => ({
    x: 8 + (i % 2) * (size + 8),
    y: 8 + Math.floor(i / 2) * (13 + size + 8) + 13,
  });
  const at = (x: number, y: number) => {
    const o = 3 * (y * figure.width + x);
    return [figure.pixels[o], figure.pixels[o + 1], figure.pixels[o + 2]];
  };
  // Data (0.5, 0.5) lands at 3/4 across and 1/4 down the first panel; elsewhere stays white.
  const d = origin(0);
  assert.notDeepEqual(at(d.x + 48, d.y + 16), [255, 255, 255]);
  assert.deepEqual(at(d.x + 16, d.y + 16), [255, 255, 255]);
  const s = origin(1);
  assert.notDeepEqual(at(s.x + 16, s.y + 48), [255, 255, 255]);
  assert.deepEqual(at(s.x + 48, s.y + 16), [255, 255, 255]);
  // Heatmap: the top-right corner is the density peak (top of viridis), the rest the bottom.
  const h = origin(2);
  assert.deepEqual(at(h.x + size - 2, h.y + 1), [...VIRIDIS_LUT.subarray(765, 768)]);
  assert.deepEqual(at(h.x + 2, h.y + 1), [...VIRIDIS_LUT.subarray(0, 3)]);
  // NaN cells are magenta, at the bottom-left of their panel.
  const q = origin(3);
  assert.deepEqual(at(q.x + 1, q.y + size - 2), [255, 0, 255]);
  assert.notDeepEqual(at(q.x + size - 2, q.y + 1), [255, 0, 255]);
  // The label strip holds text pixels.
  let dark = 0;
  for (let x = h.x; x < h.x + size; x++) {
    for (let y = h.y - 13; y < h.y; y++) if (at(x, y)[0] < 100) dark++;
  }
  assert.ok(dark > 10);

  const dir = await Deno.makeTempDir();
  try {
    await writeToy2dFigure(`${dir}/fig.png`, {
      data: new Float32Array([0, 0]),
      samples: new Float32Array([0, 0]),
      lo: -1,
      hi: 1,
      panelSize: 32,
    });
    const back = await readPng(`${dir}/fig.png`);
    assert.equal(back.channels, 3);
    assert.equal(back.width, 8 + 2 * (32 + 8));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => plotToy2dFigure({ data: grid, samples: grid, lo: 1, hi: 1 }), RangeError);
});
