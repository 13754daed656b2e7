import assert from "node:assert/strict";
import { NUMPY, PYTHON } from "./helpers/numpy.ts";
import { testNeeding } from "./helpers/needs.ts";
import { UserError } from "../lib/errors.ts";
import {
  covarianceProblem,
  decodeFidStats,
  encodeFidStats,
  encodeNpy,
  encodeNpz,
  parseNpy,
  parseNpz,
  readFidStats,
  writeFidStats,
} from "../lib/metrics/npz.ts";

/** An .npy v1.0 file built by hand from the spec: magic, version, header length, header, data. */
function handBuiltNpy(header: string, data: Uint8Array): Uint8Array {
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  const padded = header.padEnd(total - 11, " ") + "\n";
  const out = new Uint8Array(total + data.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), 10);
  out.set(data, total);
  return out;
}

Deno.test("parseNpy reads a hand-built little-endian float64 vector; encodeNpy writes the same bytes", () => {
  const values = new Float64Array([1.5, -2, 3.25]);
  const bytes = handBuiltNpy(
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
    new Uint8Array(values.buffer),
  );
  assert.equal(bytes.length, 128 + 24); // header block padded to a 64-byte multiple
  const parsed = parseNpy(bytes);
  assert.deepEqual(parsed.shape, [3]);
  assert.ok(parsed.data instanceof Float64Array);
  assert.deepEqual(Array.from(parsed.data), [1.5, -2, 3.25]);
  assert.deepEqual(encodeNpy({ shape: [3], data: values }), bytes);
});

Deno.test("parseNpy: big-endian float32 and Fortran order become native C-order arrays", () => {
  // Matrix [[1, 2, 3], [4, 5, 6]] stored column-major: 1, 4, 2, 5, 3, 6, big-endian float32.
  const raw = new Uint8Array(24);
  const view = new DataView(raw.buffer);
  [1, 4, 2, 5, 3, 6].forEach((v, i) => view.setFloat32(i * 4, v, false));
  const parsed = parseNpy(
    handBuiltNpy("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }", raw),
  );
  assert.deepEqual(parsed.shape, [2, 3]);
  assert.ok(parsed.data instanceof Float32Array);
  assert.deepEqual(Array.from(parsed.data), [1, 2, 3, 4, 5, 6]);
  assert.throws(() => parseNpy(new Uint8Array(20)), /not an \.npy file/);
  assert.throws(
    () => parseNpy(handBuiltNpy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", raw)),
    /unsupported \.npy dtype/,
  );
});

Deno.test("npz: FID statistics round-trip, stored and deflated, with n and the extractor name", () => {
  const d = 5;
  const mu = Float64Array.from({ length: d }, (_, i) => Math.PI * (i - 2));
  // A covariance: B B^T for a fixed B (symmetric, positive semi-definite).
  const b = Float64Array.from({ length: d * d }, (_, i) => Math.sin(i) / 3);
  const sigma = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) sigma[i * d + j] += b[i * d + k] * b[j * d + k];
    }
  }
  for (const compress of [false, true]) {
    const bytes = encodeFidStats({ mu, sigma, n: 12345, features: "inception-pool3" }, {
      compress,
    });
    const back = decodeFidStats(bytes, "mem.npz");
    assert.deepEqual(back.mu, mu);
    assert.deepEqual(back.sigma, sigma);
    assert.equal(back.n, 12345);
    assert.equal(back.features, "inception-pool3");
  }
  // Deflate actually compresses a constant matrix; stored does not.
  const zeros = { mu: new Float64Array(64), sigma: new Float64Array(64 * 64) };
  assert.ok(encodeFidStats(zeros, { compress: true }).length < 2000);
  assert.ok(encodeFidStats(zeros).length > 64 * 64 * 8);
});

Deno.test("npz: TTUR-style float32 statistics read as float64 values", () => {
  const mu = new Float32Array([0.1, 0.2]);
  const sigma = new Float32Array([1.1, 0.3, 0.3, 2.2]);
  const bytes = encodeNpz({ mu: { shape: [2], data: mu }, sigma: { shape: [2, 2], data: sigma } });
  const stats = decodeFidStats(bytes, "ttur.npz");
  assert.deepEqual(Array.from(stats.mu), Array.from(mu));
  assert.deepEqual(Array.from(stats.sigma), Array.from(sigma));
  assert.equal(stats.n, undefined);
});

Deno.test("npz: wrong keys, shapes, or files are clear UserErrors", async () => {
  const onlyMu = encodeNpz({ mu: { shape: [2], data: new Float64Array(2) } });
  assert.throws(
    () => decodeFidStats(onlyMu, "x.npz"),
    (e: unknown) => e instanceof UserError && /'mu' and 'sigma'/.test(e.message),
  );
  const badShape = encodeNpz({
    mu: { shape: [2], data: new Float64Array(2) },
    sigma: { shape: [4], data: new Float64Array(4) },
  });
  assert.throws(() => decodeFidStats(badShape, "x.npz"), UserError);
  assert.throws(() => decodeFidStats(new Uint8Array([1, 2, 3]), "x.npz"), UserError);
  await assert.rejects(readFidStats("/nonexistent/stats.npz"), UserError);
});

Deno.test("npz: writeFidStats then readFidStats through a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/stats.npz`;
    const stats = { mu: new Float64Array([1, 2]), sigma: new Float64Array([2, 0.5, 0.5, 1]), n: 7 };
    await writeFidStats(path, stats);
    const back = await readFidStats(path);
    assert.deepEqual(back.mu, stats.mu);
    assert.deepEqual(back.sigma, stats.sigma);
    assert.equal(back.n, 7);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function python(code: string): Promise<string> {
  const out = await new Deno.Command(PYTHON, { args: ["-c", code] }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`python failed: ${new TextDecoder().decode(out.stderr)}`);
  return text.trim();
}

testNeeding(NUMPY, {
  name: "npz: interoperates with numpy (np.save bytes, np.savez, np.savez_compressed, np.load)",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // numpy writes: float64 like pytorch-fid, float32 deflated like some TTUR files.
      await python(`
import numpy as np
mu = np.arange(4, dtype=np.float64) / 3.0
sigma = np.outer(mu, mu) + np.eye(4) * 0.5
np.savez("${dir}/torch.npz", mu=mu, sigma=sigma)
np.savez_compressed("${dir}/ttur.npz", mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
np.save("${dir}/vec.npy", np.array([1.5, -2.0, 3.25]))
`);
      const mu = Float64Array.from({ length: 4 }, (_, i) => i / 3);
      const sigma = Float64Array.from({ length: 16 }, (_, k) => {
        const i = Math.floor(k / 4), j = k % 4;
        return mu[i] * mu[j] + (i === j ? 0.5 : 0);
      });
      const torch = await readFidStats(`${dir}/torch.npz`);
      assert.deepEqual(torch.mu, mu);
      assert.deepEqual(torch.sigma, sigma);
      const ttur = await readFidStats(`${dir}/ttur.npz`);
      assert.deepEqual(Array.from(ttur.mu), Array.from(Float32Array.from(mu)));
      assert.deepEqual(Array.from(ttur.sigma), Array.from(Float32Array.from(sigma)));
      // Byte-identical .npy encoding.
      const numpyBytes = await Deno.readFile(`${dir}/vec.npy`);
      assert.deepEqual(
        encodeNpy({ shape: [3], data: new Float64Array([1.5, -2, 3.25]) }),
        numpyBytes,
      );
      // numpy reads what we write, stored and deflated, including n and the feature name.
      await writeFidStats(`${dir}/ours.npz`, { mu, sigma, n: 99, features: "fmnist" });
      await writeFidStats(`${dir}/ours_z.npz`, { mu, sigma }, { compress: true });
      const check = await python(`
import numpy as np
mu = np.arange(4, dtype=np.float64) / 3.0
sigma = np.outer(mu, mu) + np.eye(4) * 0.5
a = np.load("${dir}/ours.npz"); b = np.load("${dir}/ours_z.npz")
ok = (np.array_equal(a["mu"], mu) and np.array_equal(a["sigma"], sigma) and a["sigma"].dtype == np.float64
      and int(a["n"]) == 99 and str(a["features"]) == "fmnist"
      and np.array_equal(b["mu"], mu) and np.array_equal(b["sigma"], sigma))
print("ok" if ok else "mismatch")
`);
      assert.equal(check, "ok");
      // And parseNpz sees every entry numpy wrote.
      assert.deepEqual([...parseNpz(await Deno.readFile(`${dir}/torch.npz`)).keys()].sort(), [
        "mu",
        "sigma",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("FID statistics whose sigma cannot be a covariance are refused, naming the file", () => {
  const ok = Float64Array.from([4, 1, 1, 9]);
  assert.equal(covarianceProblem(ok, 2), null);
  assert.match(covarianceProblem(Float64Array.from([4, 1, 2, 9]), 2)!, /not symmetric/);
  assert.match(covarianceProblem(Float64Array.from([-1, 0, 0, 9]), 2)!, /negative variance/);
  assert.match(covarianceProblem(Float64Array.from([1, 5, 5, 1]), 2)!, /exceeds sqrt/);
  assert.match(covarianceProblem(Float64Array.from([1, NaN, NaN, 1]), 2)!, /not finite/);
  const bytes = encodeFidStats({ mu: new Float64Array(2), sigma: Float64Array.from([4, 1, 2, 9]) });
  assert.throws(() => decodeFidStats(bytes, "x.npz"), (err) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^x\.npz: sigma is not a covariance matrix \(not symmetric/);
    return true;
  });
});
