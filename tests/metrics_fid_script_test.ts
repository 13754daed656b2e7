import assert from "node:assert/strict";
import { runScript } from "./helpers/script.ts";
import { NUMPY, PYTHON } from "./helpers/numpy.ts";
import { testNeeding } from "./helpers/needs.ts";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { encodePng } from "../lib/io/png.ts";
import { JsRandom } from "../lib/rng.ts";
import { extractFeatures, featureStats } from "../lib/metrics/features.ts";
import { frechetDistance } from "../lib/metrics/frechet.ts";
import { datasetImageSource, pngFolderDataset } from "../lib/metrics/image_sources.ts";
import { encodeGraphDef } from "../lib/metrics/inception/graphdef.ts";
import { INCEPTION_NAME, InceptionExtractor } from "../lib/metrics/inception/extractor.ts";
import { meanAndCovariance } from "../lib/metrics/linalg.ts";
import { writeFidStats } from "../lib/metrics/npz.ts";
import { buildGraph } from "./helpers/tiny_inception_graph.ts";

await initBackend("cpu");

const fidTask = (...args: string[]) => runScript("fid.ts", args);

/** Random statistics from n samples of a correlated d-dimensional Gaussian. */
function randomStats(n: number, d: number, rng: JsRandom, shift: number) {
  const x = new Float64Array(n * d);
  for (let k = 0; k < n; k++) {
    let prev = 0;
    for (let j = 0; j < d; j++) {
      x[k * d + j] = prev = 0.6 * prev + rng.normal() + shift * Math.sin(j);
    }
  }
  return { ...meanAndCovariance(x, n, d), n };
}

testNeeding(NUMPY, {
  name: "deno task fid a.npz b.npz --json agrees with numpy's float64 computation to 1e-6 relative",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const rng = new JsRandom(17);
      const d = 64;
      await writeFidStats(`${dir}/a.npz`, randomStats(200, d, rng, 0));
      await writeFidStats(`${dir}/b.npz`, randomStats(150, d, rng, 0.3), { compress: true });
      const run = await fidTask(`${dir}/a.npz`, `${dir}/b.npz`, "--json");
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.n_a, 200);
      assert.equal(result.n_b, 150);
      assert.equal(result.features, null);
      // Independent route: LAPACK's general eigenvalues of the non-symmetric product S1 S2 (whose
      // square roots sum to tr sqrtm(S1 S2), as scipy.linalg.sqrtm would give), all in numpy.
      const py = await new Deno.Command(PYTHON, {
        args: [
          "-c",
          `
import numpy as np
a = np.load("${dir}/a.npz"); b = np.load("${dir}/b.npz")
ev = np.linalg.eigvals(a["sigma"].dot(b["sigma"]))
tr_sqrt = np.sqrt(ev.astype(complex)).real.sum()
fid = np.sum((a["mu"] - b["mu"]) ** 2) + np.trace(a["sigma"]) + np.trace(b["sigma"]) - 2 * tr_sqrt
print(repr(float(fid)))
`,
        ],
      }).output();
      assert.ok(py.success, new TextDecoder().decode(py.stderr));
      const want = Number(new TextDecoder().decode(py.stdout));
      assert.ok(
        Math.abs(result.fid - want) <= 1e-6 * Math.abs(want),
        `${result.fid} vs numpy ${want}`,
      );
      assert.ok(want > 1, "the two sets must differ for the comparison to mean something");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Writes n random w x h images with `channels` channels as PNGs. */
async function writePngFolder(
  dir: string,
  n: number,
  channels: 1 | 3,
  rng: JsRandom,
  bias: number,
) {
  await Deno.mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const px = new Uint8Array(8 * 8 * channels).map(() =>
      Math.min(255, Math.floor(rng.float() * 200) + bias)
    );
    await Deno.writeFile(
      `${dir}/img_${String(i).padStart(3, "0")}.png`,
      encodePng(px, 8, 8, channels),
    );
  }
}

Deno.test("deno task fid on PNG folders runs the Inception loader and matches the library computation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rng = new JsRandom(5);
    await writePngFolder(`${dir}/a`, 12, 3, rng, 0);
    await writePngFolder(`${dir}/b`, 10, 1, rng, 50); // grey images go through the same network
    const graphPath = `${dir}/tiny.pb`;
    await Deno.writeFile(graphPath, encodeGraphDef(buildGraph()));
    const run = await fidTask(
      `${dir}/a`,
      `${dir}/b`,
      "--inception",
      graphPath,
      "--backend",
      "cpu",
      "--batch",
      "4",
      "--json",
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.n_a, 12);
    assert.equal(result.n_b, 10);
    assert.equal(result.features, INCEPTION_NAME);
    // The same through the library, in this process.
    const extractor = new InceptionExtractor(buildGraph());
    const stats = async (folder: string) =>
      featureStats(
        await extractFeatures(extractor, datasetImageSource(pngFolderDataset(folder)), {
          batchSize: 5,
        }),
      );
    const want = frechetDistance(await stats(`${dir}/a`), await stats(`${dir}/b`));
    extractor.dispose();
    assert.ok(want > 0);
    assert.ok(Math.abs(result.fid - want) <= 1e-6 * want, `${result.fid} vs ${want}`);
    // A folder against statistics written from the other folder gives the same number.
    const extractor2 = new InceptionExtractor(buildGraph());
    const statsB = featureStats(
      await extractFeatures(extractor2, datasetImageSource(pngFolderDataset(`${dir}/b`))),
    );
    extractor2.dispose();
    await writeFidStats(`${dir}/b.npz`, statsB);
    const mixed = await fidTask(
      `${dir}/a`,
      `${dir}/b.npz`,
      "--inception",
      graphPath,
      "--backend",
      "cpu",
      "--json",
    );
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.ok(Math.abs(JSON.parse(mixed.stdout).fid - want) <= 1e-6 * want);
    assert.equal(tf.memory().numTensors, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task fid: clear errors (exit 2) without the Inception file, for run:ID and bad inputs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writePngFolder(`${dir}/a`, 2, 3, new JsRandom(1), 0);
    const missing = await fidTask(
      `${dir}/a`,
      `${dir}/a`,
      "--inception",
      `${dir}/none.pb`,
      "--backend",
      "cpu",
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /inception-2015-12-05\.tgz/);
    const run = await fidTask("run:3", `${dir}/a`, "--db", `${dir}/results.db`);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no run 3 in .*deno task compare/);
    const nofile = await fidTask(`${dir}/x.npz`, `${dir}/a`);
    assert.equal(nofile.code, 2);
    assert.match(nofile.stderr, /statistics file not found/);
    const empty = await fidTask(`${dir}`, `${dir}/a`, "--backend", "cpu");
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no \.png files/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
