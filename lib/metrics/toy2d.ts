/**
 * Exact evaluation of 2D samples and energies, in float64 on the JS side.
 *
 * Point sets are (n x 2) row-major arrays. Everything here is plain arithmetic over the points, so
 * the numbers do not depend on the tfjs backend.
 */
import { logDensities, onCheckerboardSquare, type Toy2dDataset } from "../data/toy2d.ts";
import { JsRandom, Rng } from "../rng.ts";

type Points = Float32Array | Float64Array;

function count(points: Points): number {
  if (points.length % 2 !== 0) throw new RangeError(`2D point arrays need an even length`);
  return points.length / 2;
}

/** Sum of |p_i - q_j| over all pairs (i < j when `same`). */
function pairDistanceSum(a: Points, b: Points, same: boolean): number {
  const n = a.length / 2, m = b.length / 2;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ax = a[2 * i], ay = a[2 * i + 1];
    let row = 0; // per-row partial sums keep the float64 rounding error small
    for (let j = same ? i + 1 : 0; j < m; j++) {
      const dx = ax - b[2 * j], dy = ay - b[2 * j + 1];
      row += Math.sqrt(dx * dx + dy * dy);
    }
    total += row;
  }
  return total;
}

/**
 * Szekely's energy distance E(P, Q) = 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo 2013,
 * "Energy statistics", eq. 2.1), as the V-statistic: every expectation is the plain mean over all
 * n*m (or n^2, m^2, diagonal included) pairs. It is the energy distance between the two empirical
 * distributions, so it is >= 0 and exactly 0 for identical sets; its positive bias
 * (about E|X - X'| / n + E|Y - Y'| / m) is why evaluateToy2d reports it next to the same statistic
 * between two independent data draws of the same sizes. O(n m) time: fine for a few thousand points.
 */
export function energyDistance(a: Points, b: Points): number {
  const n = count(a), m = count(b);
  if (n === 0 || m === 0) throw new RangeError(`energyDistance needs two non-empty point sets`);
  const cross = pairDistanceSum(a, b, false) / (n * m);
  const withinA = (2 * pairDistanceSum(a, a, true)) / (n * n);
  const withinB = (2 * pairDistanceSum(b, b, true)) / (m * m);
  return Math.max(0, 2 * cross - withinA - withinB);
}

export interface ModeCoverage {
  /** Per mode: the share of all samples whose nearest mode it is and that lie within `radius`. */
  perMode: number[];
  /** Share of samples farther than `radius` from every mode (perMode and offMode sum to 1). */
  offMode: number;
  minShare: number;
  maxShare: number;
  radius: number;
}

/**
 * Mode coverage of a Gaussian mixture's samples: each sample counts for its nearest centre if it
 * lies within `radius` (evaluateToy2d uses 3 mode std), else as off-mode. Default radius: Infinity
 * (pure nearest-mode shares).
 */
export function modeCoverage(samples: Points, centres: Points, radius = Infinity): ModeCoverage {
  const n = count(samples), k = count(centres);
  if (n === 0 || k === 0) throw new RangeError(`modeCoverage needs samples and centres`);
  const counts = new Float64Array(k);
  let off = 0;
  const radiusSq = radius * radius;
  for (let i = 0; i < n; i++) {
    const x = samples[2 * i], y = samples[2 * i + 1];
    let best = 0, bestSq = Infinity;
    for (let c = 0; c < k; c++) {
      const d = (x - centres[2 * c]) ** 2 + (y - centres[2 * c + 1]) ** 2;
      if (d < bestSq) {
        bestSq = d;
        best = c;
      }
    }
    // NaN samples fail the comparison and count as off-mode.
    if (bestSq <= radiusSq) counts[best]++;
    else off++;
  }
  const perMode = Array.from(counts, (c) => c / n);
  return {
    perMode,
    offMode: off / n,
    minShare: Math.min(...perMode),
    maxShare: Math.max(...perMode),
    radius,
  };
}

/** Share of samples on the checkerboard's data squares (a uniform spread over the board: 1/2). */
export function checkerboardShare(samples: Points): number {
  const n = count(samples);
  if (n === 0) throw new RangeError(`checkerboardShare needs samples`);
  let on = 0;
  for (let i = 0; i < n; i++) if (onCheckerboardSquare(samples[2 * i], samples[2 * i + 1])) on++;
  return on / n;
}

export interface GridOptions {
  /** The grid covers [lo, hi]^2 with n x n cells, evaluated at cell centres. */
  lo: number;
  hi: number;
  n: number;
  /**
   * Evaluate the log-density at `scale * x` (DRL level 0: the energy is a function of
   * y = a_1 x). Normalising over x on the grid gives log p_x(x) = log p_y(scale x) + 2 log scale
   * exactly: the Jacobian 2 log scale is absorbed into logZ, which is the normaliser in x. Default 1.
   */
  scale?: number;
  /** Points per call of the log-density function. Default 4096. */
  batchSize?: number;
}

export interface GridLogLikelihood {
  /** Mean over held-out points of the normalised log-density (nats). */
  avgLogLik: number;
  /** log of the grid integral of exp(logUnnormalised(scale x)) dx (midpoint rule). */
  logZ: number;
  /**
   * Normalised log-density at the n x n cell centres, index iy * n + ix with
   * x = lo + (ix + 1/2) h, y = lo + (iy + 1/2) h, h = (hi - lo) / n (y grows with the row index).
   */
  gridValues: Float32Array;
  /** Share of held-out points outside [lo, hi]^2, where the grid normaliser has no mass. */
  heldOutOutside: number;
}

/** Cell centres of the grid, (n*n x 2) row-major in the gridValues order. */
export function gridPoints(lo: number, hi: number, n: number): Float64Array {
  const h = (hi - lo) / n;
  const out = new Float64Array(2 * n * n);
  for (let iy = 0; iy < n; iy++) {
    for (let ix = 0; ix < n; ix++) {
      out[2 * (iy * n + ix)] = lo + (ix + 0.5) * h;
      out[2 * (iy * n + ix) + 1] = lo + (iy + 0.5) * h;
    }
  }
  return out;
}

/** log sum exp in float64; -Infinity entries are fine, NaN propagates. */
export function logSumExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) return NaN;
    if (values[i] > max) max = values[i];
  }
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] - max);
  return max + Math.log(sum);
}

async function evaluateBatched(
  logUnnormalised: (points: Float32Array) => Promise<Float32Array>,
  points: Points,
  scale: number,
  batchSize: number,
): Promise<Float64Array> {
  const total = points.length / 2;
  const out = new Float64Array(total);
  for (let start = 0; start < total; start += batchSize) {
    const end = Math.min(total, start + batchSize);
    const batch = new Float32Array(2 * (end - start));
    for (let i = 0; i < batch.length; i++) batch[i] = scale * points[2 * start + i];
    const values = await logUnnormalised(batch);
    if (values.length !== end - start) {
      throw new RangeError(
        `log-density returned ${values.length} values for ${end - start} points`,
      );
    }
    out.set(values, start);
  }
  return out;
}

function checkGrid(opts: GridOptions): void {
  if (!(opts.hi > opts.lo) || !Number.isInteger(opts.n) || opts.n < 1) {
    throw new RangeError(`grid needs lo < hi and an integer n >= 1, got ${JSON.stringify(opts)}`);
  }
  if (opts.scale !== undefined && !(opts.scale > 0)) {
    throw new RangeError(`grid scale must be positive, got ${opts.scale}`);
  }
}

/**
 * Normalises an unnormalised log-density on an n x n grid over [lo, hi]^2 (midpoint rule:
 * log Z = logsumexp(values) + log h^2, in float64) and returns the average held-out
 * log-likelihood log q(x) - log Z. The mass outside the box is left out of Z, so the result is
 * the log-likelihood of the density restricted to the box; choose the box to hold the data.
 * The grid must be fine against the density's sharpest features (cell side well below the data's
 * noise std) for log Z to be accurate.
 */
export async function gridLogLikelihood(
  logUnnormalised: (points: Float32Array) => Promise<Float32Array>,
  heldOut: Points,
  opts: GridOptions,
): Promise<GridLogLikelihood> {
  checkGrid(opts);
  const { lo, hi, n } = opts;
  const scale = opts.scale ?? 1;
  const batchSize = opts.batchSize ?? 4096;
  const h = (hi - lo) / n;
  const values = await evaluateBatched(logUnnormalised, gridPoints(lo, hi, n), scale, batchSize);
  const logZ = logSumExp(values) + 2 * Math.log(h);
  const gridValues = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) gridValues[i] = values[i] - logZ;
  const held = await evaluateBatched(logUnnormalised, heldOut, scale, batchSize);
  let sum = 0, outside = 0;
  for (let i = 0; i < held.length; i++) {
    sum += held[i];
    const x = heldOut[2 * i], y = heldOut[2 * i + 1];
    if (!(x >= lo && x <= hi && y >= lo && y <= hi)) outside++;
  }
  return {
    avgLogLik: sum / held.length - logZ,
    logZ,
    gridValues,
    heldOutOutside: outside / count(heldOut),
  };
}

/**
 * KL(p || q) in nats between two densities given as log-values on the same grid (normalised or
 * not): each is normalised over the grid's cells first, so the figure's box is the whole space.
 * Cells where p is 0 (-Infinity) add nothing; a cell where q is 0 and p is not makes it Infinity.
 */
export function gridKl(
  logP: Float32Array | Float64Array,
  logQ: Float32Array | Float64Array,
): number {
  if (logP.length !== logQ.length) {
    throw new RangeError(`gridKl needs grids of one size (got ${logP.length} and ${logQ.length})`);
  }
  const zp = logSumExp(logP), zq = logSumExp(logQ);
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    if (logP[i] === -Infinity) continue;
    kl += Math.exp(logP[i] - zp) * (logP[i] - zp - (logQ[i] - zq));
  }
  // Rounding can leave a tiny negative sum for equal grids; KL itself is never negative.
  return Math.max(kl, 0);
}

/** A data set's exact log-density as the batched async function gridLogLikelihood takes. */
export function trueLogDensityFn(
  dataset: Toy2dDataset,
): (points: Float32Array) => Promise<Float32Array> {
  return (points) => Promise.resolve(Float32Array.from(logDensities(dataset, points)));
}

/** The exact average log-likelihood (nats) of points under a data set's true density. */
export function trueAvgLogLik(dataset: Toy2dDataset, points: Points): number {
  const values = logDensities(dataset, points);
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** The true density on the grid of gridLogLikelihood (log-density, same layout). */
export function trueDensityGrid(dataset: Toy2dDataset, opts: GridOptions): Float32Array {
  checkGrid(opts);
  return Float32Array.from(logDensities(dataset, gridPoints(opts.lo, opts.hi, opts.n)));
}

export interface EvaluateToy2dOptions {
  dataset: Toy2dDataset;
  /** Model samples (x_0 of the progressive sampler). */
  samples: Points;
  /** Held-out data drawn from the data set, independent of training. */
  heldOut: Points;
  /** Draws the baseline data set of the samples' size. */
  rng: Rng | JsRandom;
  /** The model's unnormalised level-0 log-density, batched; omit to skip the likelihood. */
  logUnnormalised?: (points: Float32Array) => Promise<Float32Array>;
  /** Grid for the likelihood; default [-1.5, 1.5]^2 with 200 x 200 cells, scale 1. */
  grid?: GridOptions;
  /** At most this many points of each set enter the O(n^2) energy distance. Default 2000. */
  energyPoints?: number;
  /** Extra fresh data draws for the energy distance baseline's mean. Default 10. */
  baselineDraws?: number;
}

export interface Toy2dEvaluation {
  dataset: string;
  sampleCount: number;
  heldOutCount: number;
  /** Energy distance (V-statistic) between samples and held-out data. */
  energyDistance: number;
  /** The same between a fresh data draw of the samples' size and the held-out data. */
  energyDistanceBaseline: number;
  /**
   * That baseline over `draws` more fresh draws: one draw varies several-fold (8 Gaussians, 2,000
   * points: 0.00025 to 0.00175 over 20 draws), so bounds are read against the mean.
   */
  energyDistanceBaselineDraws: { mean: number; min: number; max: number; draws: number };
  /** Share of samples with a NaN or infinite coordinate. */
  nonFiniteShare: number;
  /** Gaussian mixtures: coverage of the samples and of the baseline draw (radius 3 mode std). */
  modeCoverage?: ModeCoverage;
  modeCoverageBaseline?: ModeCoverage;
  /** Checkerboard: share of samples on data squares, and of a uniform draw on the board (0.5). */
  checkerboardShare?: number;
  checkerboardShareBaseline?: number;
  /** Held-out log-likelihood (nats) of the model (grid-normalised) and of the true density. */
  logLik?: {
    model: number;
    modelLogZ: number;
    /** Exact: the true density needs no grid. */
    trueExact: number;
    /** The true density normalised on the same grid: shows the grid's own error. */
    trueOnGrid: number;
    heldOutOutside: number;
    grid: { lo: number; hi: number; n: number; scale: number };
    /**
     * Normalised log-densities on the grid (layout of GridLogLikelihood.gridValues), for plots;
     * n^2 floats each, too big for a database row.
     */
    modelGridValues: Float32Array;
    trueGridValues: Float32Array;
  };
}

function firstPoints(points: Points, max: number): Points {
  return points.length / 2 > max ? points.subarray(0, 2 * max) : points;
}

function nonFiniteShare(points: Points): number {
  let bad = 0;
  for (let i = 0; i < points.length / 2; i++) {
    if (!Number.isFinite(points[2 * i]) || !Number.isFinite(points[2 * i + 1])) bad++;
  }
  return bad / (points.length / 2);
}

/**
 * Every 2D metric that applies to the data set, each next to its reference value. The energy
 * distance uses the first `energyPoints` of each set (the points are i.i.d., so any subset is a
 * fair draw); the baseline draw has the same size as the samples entering it.
 */
export async function evaluateToy2d(opts: EvaluateToy2dOptions): Promise<Toy2dEvaluation> {
  const { dataset } = opts;
  const energyPoints = opts.energyPoints ?? 2000;
  const sampleCount = count(opts.samples), heldOutCount = count(opts.heldOut);
  const edSamples = firstPoints(opts.samples, energyPoints);
  const edHeldOut = firstPoints(opts.heldOut, energyPoints);
  const baseline = dataset.sample(sampleCount, opts.rng);
  const result: Toy2dEvaluation = {
    dataset: dataset.name,
    sampleCount,
    heldOutCount,
    energyDistance: energyDistance(edSamples, edHeldOut),
    energyDistanceBaseline: energyDistance(firstPoints(baseline, energyPoints), edHeldOut),
    energyDistanceBaselineDraws: drawStats([]),
    nonFiniteShare: nonFiniteShare(opts.samples),
  };
  if (dataset.modes) {
    const radius = 3 * dataset.modes.std;
    result.modeCoverage = modeCoverage(opts.samples, dataset.modes.centres, radius);
    result.modeCoverageBaseline = modeCoverage(baseline, dataset.modes.centres, radius);
  }
  if (dataset.name === "checkerboard") {
    result.checkerboardShare = checkerboardShare(opts.samples);
    const r = opts.rng instanceof Rng ? opts.rng.js() : opts.rng;
    const uniform = new Float64Array(2 * sampleCount);
    for (let i = 0; i < uniform.length; i++) uniform[i] = 2 * r.float() - 1;
    result.checkerboardShareBaseline = checkerboardShare(uniform);
  }
  if (opts.logUnnormalised) {
    const grid = opts.grid ?? { lo: -1.5, hi: 1.5, n: 200 };
    const scale = grid.scale ?? 1;
    const model = await gridLogLikelihood(opts.logUnnormalised, opts.heldOut, grid);
    const truth = await gridLogLikelihood(trueLogDensityFn(dataset), opts.heldOut, {
      ...grid,
      scale: 1,
    });
    result.logLik = {
      model: model.avgLogLik,
      modelLogZ: model.logZ,
      trueExact: trueAvgLogLik(dataset, opts.heldOut),
      trueOnGrid: truth.avgLogLik,
      heldOutOutside: model.heldOutOutside,
      grid: { lo: grid.lo, hi: grid.hi, n: grid.n, scale },
      modelGridValues: model.gridValues,
      trueGridValues: truth.gridValues,
    };
  }
  // Last, so the extra draws leave every number above as it was without them.
  const values = Array.from(
    { length: opts.baselineDraws ?? 10 },
    () =>
      energyDistance(firstPoints(dataset.sample(sampleCount, opts.rng), energyPoints), edHeldOut),
  );
  result.energyDistanceBaselineDraws = drawStats(values);
  return result;
}

/** Mean, min and max of the baseline's extra draws (NaN without any). */
function drawStats(values: number[]): Toy2dEvaluation["energyDistanceBaselineDraws"] {
  if (values.length === 0) return { mean: NaN, min: NaN, max: NaN, draws: 0 };
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
    draws: values.length,
  };
}
