import assert from "node:assert/strict";
import {
  erfc,
  getToy2d,
  logDensities,
  onCheckerboardSquare,
  TOY2D_NAMES,
} from "../lib/data/toy2d.ts";
import { CurveNoiseDensity } from "../lib/data/curve_density.ts";
import {
  checkerboardShare,
  energyDistance,
  evaluateToy2d,
  gridKl,
  gridLogLikelihood,
  gridPoints,
  logSumExp,
  modeCoverage,
  trueAvgLogLik,
  trueDensityGrid,
  trueLogDensityFn,
} from "../lib/metrics/toy2d.ts";
import { UserError } from "../lib/errors.ts";
import { JsRandom, Rng } from "../lib/rng.ts";

Deno.test("getToy2d refuses an unknown name and lists the valid ones", () => {
  assert.throws(() => getToy2d("9gaussians"), (err: unknown) => {
    assert.ok(err instanceof UserError);
    for (const name of TOY2D_NAMES) assert.ok(err.message.includes(name), name);
    return true;
  });
});

Deno.test("sampling is deterministic under a seed and differs across seeds", () => {
  for (const name of TOY2D_NAMES) {
    const data = getToy2d(name);
    const a = data.sample(50, new Rng(7));
    const b = data.sample(50, new Rng(7));
    const c = data.sample(50, new Rng(8));
    assert.deepEqual(a, b, name);
    assert.notDeepEqual(a, c, name);
    assert.deepEqual(data.sample(20, new JsRandom(3)), data.sample(20, new JsRandom(3)), name);
    assert.ok(a.every(Number.isFinite), name);
    // Unit scale: the data lie roughly within [-1, 1]^2.
    assert.ok(a.every((v) => Math.abs(v) < 1.3), name);
  }
});

/** Midpoint-rule integral of exp(logDensity) and of p log p over [lo, hi]^2. */
function integrate(name: string, lo: number, hi: number, n: number) {
  const data = getToy2d(name);
  const values = logDensities(data, gridPoints(lo, hi, n));
  const cell = ((hi - lo) / n) ** 2;
  let mass = 0, negEntropy = 0;
  for (const v of values) {
    if (v === -Infinity) continue;
    mass += Math.exp(v) * cell;
    negEntropy += Math.exp(v) * v * cell;
  }
  return { mass, negEntropy };
}

Deno.test("each log-density integrates to 1 and its sampler draws from it", () => {
  for (const [index, name] of TOY2D_NAMES.entries()) {
    // The checkerboard grid is aligned with its squares, so the midpoint rule is exact there.
    const { mass, negEntropy } = name === "checkerboard"
      ? integrate(name, -1, 1, 200)
      : integrate(name, -1.5, 1.5, 240);
    assert.ok(Math.abs(mass - 1) < 1e-2, `${name}: mass ${mass}`);
    // E_samples[log p(x)] estimates E_p[log p] = -entropy only if the sampler draws from p. A
    // noise std 10% too large misses by ~0.1 nats on the curves and ~0.2 on the mixtures; the
    // standard error with 20000 points is ~0.006.
    const samples = getToy2d(name).sample(20000, new Rng(100 + index));
    const crossEntropy = trueAvgLogLik(getToy2d(name), samples);
    assert.ok(
      Math.abs(crossEntropy - negEntropy) < 0.03,
      `${name}: E_samples log p = ${crossEntropy}, grid E_p log p = ${negEntropy}`,
    );
  }
});

Deno.test("diffused(a, s) is the density of a x + s eps: Monte Carlo convolution and mass 1", () => {
  const a = 0.8, s = 0.15;
  const probes = [[0, 0], [0.5, 0.1], [-0.3, 0.6], [0.9, -0.9], [1.6, 0]];
  for (const [index, name] of TOY2D_NAMES.entries()) {
    const data = getToy2d(name);
    const diffused = data.diffused(a, s);
    const x = data.sample(100000, new Rng(300 + index));
    const n = x.length / 2;
    for (const [zx, zy] of probes) {
      // p(z) = E_x[N(z; a x, s^2 I)], estimated with its standard error.
      let sum = 0, sumSq = 0;
      for (let i = 0; i < n; i++) {
        const k =
          Math.exp(-((zx - a * x[2 * i]) ** 2 + (zy - a * x[2 * i + 1]) ** 2) / (2 * s * s)) /
          (2 * Math.PI * s * s);
        sum += k;
        sumSq += k * k;
      }
      const mean = sum / n;
      const se = Math.sqrt(Math.max(sumSq / n - mean * mean, 0) / n);
      const exact = Math.exp(diffused(zx, zy));
      assert.ok(
        Math.abs(exact - mean) <= 4 * se + 1e-4 * mean,
        `${name} at (${zx}, ${zy}): exact ${exact}, Monte Carlo ${mean} +- ${se}`,
      );
    }
    // The whole mass lies in [-2, 2]^2 (|a x| < 1.05, 6 s = 0.9).
    const values = gridPoints(-2, 2, 200);
    let mass = 0;
    for (let i = 0; i < values.length / 2; i++) {
      mass += Math.exp(diffused(values[2 * i], values[2 * i + 1])) * (4 / 200) ** 2;
    }
    assert.ok(Math.abs(mass - 1) < 1e-3, `${name}: mass ${mass}`);
  }
});

Deno.test("erfc has its documented relative accuracy, tails included", () => {
  // Reference values: Python's math.erfc.
  const cases: [number, number][] = [
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [-1, 1.8427007929497148],
    [3, 2.209049699858544e-5],
    [5, 1.5374597944280349e-12],
    [8, 1.1224297172982928e-29],
  ];
  for (const [x, want] of cases) {
    assert.ok(Math.abs(erfc(x) / want - 1) < 2e-7, `erfc(${x}) = ${erfc(x)}, want ${want}`);
  }
});

Deno.test("diffused with a = 1 and a tiny s is the data density away from its edges", () => {
  for (const name of TOY2D_NAMES) {
    const data = getToy2d(name);
    const diffused = data.diffused(1, 1e-4);
    for (const [x, y] of [[0.7, 0.01], [-0.74, -0.76], [0.1, -0.2], [0.26, 0.49]]) {
      const exact = data.logDensity(x, y);
      if (exact === -Infinity) {
        assert.ok(diffused(x, y) < -1e3, `${name} at (${x}, ${y}): ${diffused(x, y)}`);
      } else {
        assert.ok(Math.abs(diffused(x, y) - exact) < 1e-3, `${name} at (${x}, ${y})`);
      }
    }
  }
});

Deno.test("curve quadrature agrees with a 4x finer rule to 1e-6 relative", () => {
  const curve = (u: number) => {
    const t = 1.5 * Math.PI * (1 + 2 * u);
    return [0.06 * t * Math.cos(t), 0.06 * t * Math.sin(t)] as const;
  };
  const coarse = new CurveNoiseDensity([{ curve, weight: 1 }], 0.04);
  const fine = new CurveNoiseDensity([{ curve, weight: 1 }], 0.04, 0.04 / 8);
  assert.ok(fine.nodeCount > 3 * coarse.nodeCount);
  const points = [...getToy2d("swissroll").sample(200, new Rng(2)), 0.05, 0.05, 1.2, -1.1];
  for (let i = 0; i < points.length; i += 2) {
    const a = coarse.logDensity(points[i], points[i + 1]);
    const b = fine.logDensity(points[i], points[i + 1]);
    assert.ok(Number.isFinite(a));
    assert.ok(Math.abs(a - b) < 1e-6, `(${points[i]}, ${points[i + 1]}): ${a} vs ${b}`);
  }
  // The pruned log-sum-exp stays finite and accurate far from the curve.
  const far = coarse.logDensity(3, 3);
  assert.ok(Number.isFinite(far) && Math.abs(far - fine.logDensity(3, 3)) < 1e-6);
});

Deno.test("the checkerboard density is 1/2 on its squares and 0 elsewhere", () => {
  const board = getToy2d("checkerboard");
  assert.equal(board.squares?.length, 8);
  assert.equal(board.logDensity(-0.9, -0.9), -Math.log(2)); // bottom-left square holds data
  assert.equal(board.logDensity(-0.4, -0.9), -Infinity);
  assert.equal(board.logDensity(1.2, 0.1), -Infinity);
  assert.equal(onCheckerboardSquare(0.25, 0.25), true);
  assert.equal(onCheckerboardSquare(0.25, -0.25), false);
});

Deno.test("energy distance: 0 for identical sets, 2d for two single points, grows with a shift", () => {
  const data = getToy2d("8gaussians");
  const a = data.sample(600, new Rng(3));
  const b = data.sample(600, new Rng(4));
  assert.ok(energyDistance(a, a) < 1e-12); // 0 up to float64 rounding
  assert.ok(
    Math.abs(energyDistance(new Float32Array([0, 0]), new Float32Array([3, 4])) - 10) < 1e-12,
  );
  const same = energyDistance(a, b);
  const shifted = b.map((v, i) => (i % 2 === 0 ? v + 0.3 : v));
  const moved = energyDistance(a, shifted);
  // Over 200 seed pairs of two 600-point draws: median 0.0025, 99th percentile 0.011; a shift by
  // 0.3 (6 mode std) gives about 0.1.
  assert.ok(same > 0 && same < 0.012, `two draws: ${same}`);
  assert.ok(moved > 0.06 && moved > 5 * same, `shifted: ${moved} vs ${same}`);
  assert.ok(Math.abs(energyDistance(a, shifted) - energyDistance(shifted, a)) < 1e-12);
});

Deno.test("8 Gaussians: each mode holds ~1/8 of the data, ~1.1% lies beyond 3 std", () => {
  const data = getToy2d("8gaussians");
  const samples = data.sample(8000, new Rng(5));
  const modes = data.modes!;
  const nearest = modeCoverage(samples, modes.centres);
  assert.equal(nearest.offMode, 0);
  assert.ok(Math.abs(nearest.perMode.reduce((s, v) => s + v, 0) - 1) < 1e-12);
  for (const share of nearest.perMode) assert.ok(Math.abs(share - 1 / 8) < 0.015, `${share}`);
  // P(|eps| > 3) for a 2D standard normal is exp(-4.5) = 1.11%.
  const within = modeCoverage(samples, modes.centres, 3 * modes.std);
  assert.ok(Math.abs(within.offMode - Math.exp(-4.5)) < 0.005, `${within.offMode}`);
  // All samples collapsed on one mode: one share 1, the rest 0.
  const collapsed = new Float32Array(200).fill(0);
  for (let i = 0; i < 100; i++) collapsed[2 * i] = 0.7;
  const one = modeCoverage(collapsed, modes.centres, 3 * modes.std);
  assert.equal(one.maxShare, 1);
  assert.equal(one.minShare, 0);
});

Deno.test("checkerboard share: 1 for data, ~1/2 for a uniform spread over the board", () => {
  const data = getToy2d("checkerboard");
  assert.equal(checkerboardShare(data.sample(4000, new Rng(3))), 1);
  const r = new JsRandom(9);
  const uniform = Float32Array.from({ length: 8000 }, () => 2 * r.float() - 1);
  assert.ok(Math.abs(checkerboardShare(uniform) - 0.5) < 0.02);
});

Deno.test("gridLogLikelihood of the true density recovers the exact average log-likelihood", async () => {
  for (const name of ["8gaussians", "2moons"]) {
    const data = getToy2d(name);
    const heldOut = data.sample(500, new Rng(4));
    const exact = trueAvgLogLik(data, heldOut);
    // An arbitrary constant offset must be removed by the normalisation.
    const shifted = async (p: Float32Array) => (await trueLogDensityFn(data)(p)).map((v) => v + 5);
    const grid = await gridLogLikelihood(shifted, heldOut, { lo: -1.5, hi: 1.5, n: 150 });
    assert.ok(Math.abs(grid.logZ - 5) < 1e-3, `${name} logZ ${grid.logZ}`);
    assert.ok(Math.abs(grid.avgLogLik - exact) < 1e-3, `${name}: ${grid.avgLogLik} vs ${exact}`);
    assert.equal(grid.gridValues.length, 150 * 150);
    assert.equal(grid.heldOutOutside, 0);
    const truth = trueDensityGrid(data, { lo: -1.5, hi: 1.5, n: 150 });
    assert.ok(Math.abs(grid.gridValues[150 * 75 + 140] - truth[150 * 75 + 140]) < 1e-3);
  }
});

Deno.test("gridLogLikelihood with scale: log p_x(x) = log p_y(a x) + 2 log a", async () => {
  // p_y = N(0, s^2 I) on y = a x, so x ~ N(0, (s / a)^2 I).
  const s = 0.3, a = 0.8, sx = s / a;
  const unnormalised = (p: Float32Array) =>
    Promise.resolve(
      Float32Array.from({ length: p.length / 2 }, (_, i) =>
        -(p[2 * i] ** 2 + p[2 * i + 1] ** 2) / (2 * s * s)),
    );
  const heldOut = Float64Array.from([0, 0, 0.2, -0.1, -0.5, 0.3, 0.1, 0.6]);
  let exact = 0;
  for (let i = 0; i < 4; i++) {
    const r2 = heldOut[2 * i] ** 2 + heldOut[2 * i + 1] ** 2;
    exact += -Math.log(2 * Math.PI * sx * sx) - r2 / (2 * sx * sx);
  }
  exact /= 4;
  const res = await gridLogLikelihood(unnormalised, heldOut, {
    lo: -2.5,
    hi: 2.5,
    n: 200,
    scale: a,
    batchSize: 777,
  });
  assert.ok(Math.abs(res.avgLogLik - exact) < 1e-4, `${res.avgLogLik} vs ${exact}`);
  // The normaliser in x is the one in y divided by a^2: log Z_x = log(2 pi s^2) - 2 log a.
  assert.ok(Math.abs(res.logZ - (Math.log(2 * Math.PI * s * s) - 2 * Math.log(a))) < 1e-4);
});

Deno.test("gridKl: 0 for one density, mu^2 / 2 between unit Gaussians mu apart, Infinity off support", () => {
  const n = 200, lo = -8, hi = 8;
  const cells = gridPoints(lo, hi, n);
  const gauss = (mx: number) =>
    Float64Array.from(
      { length: n * n },
      (_, i) => -((cells[2 * i] - mx) ** 2 + cells[2 * i + 1] ** 2) / 2,
    );
  const p = gauss(0);
  assert.equal(gridKl(p, p), 0);
  // Normalisation is gridKl's own: a constant shift of either grid changes nothing.
  assert.ok(Math.abs(gridKl(p, gauss(0).map((v) => v + 5))) < 1e-12);
  for (const mu of [0.5, 1, 2]) {
    const kl = gridKl(p, gauss(mu));
    assert.ok(Math.abs(kl - mu * mu / 2) < 1e-3, `mu ${mu}: ${kl}`);
  }
  const q = Float64Array.from(p, (v, i) => (cells[2 * i] < 0 ? -Infinity : v));
  assert.equal(gridKl(p, q), Infinity);
  assert.ok(Number.isFinite(gridKl(q, p)), "cells where p is 0 add nothing");
  assert.throws(() => gridKl(p, p.subarray(1)), RangeError);
});

Deno.test("logSumExp handles -Infinity and large values", () => {
  assert.equal(logSumExp([-Infinity, -Infinity]), -Infinity);
  assert.ok(Math.abs(logSumExp([1000, 1000]) - (1000 + Math.log(2))) < 1e-9);
  assert.ok(Number.isNaN(logSumExp([0, NaN])));
});

Deno.test("evaluateToy2d reports the metrics that apply, next to their baselines", async () => {
  const gauss = getToy2d("8gaussians");
  const heldOut = gauss.sample(400, new Rng(20));
  const good = await evaluateToy2d({
    dataset: gauss,
    samples: gauss.sample(400, new Rng(21)),
    heldOut,
    rng: new Rng(22),
    logUnnormalised: trueLogDensityFn(gauss),
    grid: { lo: -1.5, hi: 1.5, n: 120 },
  });
  // Collapsed samples: every one on mode 0.
  const collapsed = gauss.sample(400, new Rng(21)).map((v, i) =>
    (i % 2 === 0 ? 0.7 : 0) + 0.05 * v
  );
  const bad = await evaluateToy2d({
    dataset: gauss,
    samples: collapsed,
    heldOut,
    rng: new Rng(22),
  });
  assert.equal(good.energyDistanceBaseline, bad.energyDistanceBaseline); // same seed, same draw
  assert.ok(good.energyDistance < 3 * good.energyDistanceBaseline);
  assert.ok(bad.energyDistance > 10 * bad.energyDistanceBaseline);
  assert.ok(good.modeCoverage!.minShare > 0.07 && bad.modeCoverage!.minShare === 0);
  assert.ok(Math.abs(good.logLik!.model - good.logLik!.trueExact) < 1e-3);
  assert.ok(Math.abs(good.logLik!.trueOnGrid - good.logLik!.trueExact) < 1e-3);
  assert.equal(bad.logLik, undefined);
  assert.equal(good.checkerboardShare, undefined);
  assert.equal(good.nonFiniteShare, 0);
  // The baseline's mean over 10 more draws: inside their range, which holds the one draw's scale.
  const b = good.energyDistanceBaselineDraws;
  assert.equal(b.draws, 10);
  assert.ok(b.min <= b.mean && b.mean <= b.max && b.min > 0, JSON.stringify(b));
  assert.ok(b.max < 10 * good.energyDistanceBaseline && b.min > good.energyDistanceBaseline / 10);
  // The extra draws come last: without them every other number is the same.
  const none = await evaluateToy2d({
    dataset: gauss,
    samples: gauss.sample(400, new Rng(21)),
    heldOut,
    rng: new Rng(22),
    baselineDraws: 0,
  });
  assert.equal(none.energyDistanceBaseline, good.energyDistanceBaseline);
  assert.deepEqual(none.modeCoverageBaseline, good.modeCoverageBaseline);

  const board = getToy2d("checkerboard");
  const boardEval = await evaluateToy2d({
    dataset: board,
    samples: board.sample(300, new Rng(1)),
    heldOut: board.sample(300, new Rng(2)),
    rng: new Rng(3),
  });
  assert.equal(boardEval.checkerboardShare, 1);
  assert.ok(Math.abs(boardEval.checkerboardShareBaseline! - 0.5) < 0.1);
  assert.equal(boardEval.modeCoverage, undefined);
});
