/**
 * The Inception Score (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016):
 * IS = exp( E_x KL(p(y|x) || p(y)) ), computed as the reference implementation
 * (openai/improved-gan, inception_score/model.py) does: the predictions are cut into `splits`
 * consecutive parts (rows [i*n/splits, (i+1)*n/splits)), p(y) is the mean prediction of a part,
 * and the score is the mean and the population standard deviation of the parts' scores.
 * Here everything runs in float64.
 */

export interface InceptionScoreResult {
  /** Mean over the splits of exp(mean KL). */
  mean: number;
  /** Population standard deviation over the splits (numpy's np.std, as the reference). */
  std: number;
  splits: number;
  /** Number of images scored. */
  n: number;
}

/** Row-wise softmax of n x k logits, in float64 (max-subtracted). */
export function softmaxRows(
  logits: Float32Array | Float64Array,
  n: number,
  k: number,
): Float64Array {
  if (logits.length !== n * k) {
    throw new RangeError(`logits: ${logits.length} values, expected ${n}x${k}`);
  }
  const p = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[row + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += p[row + j] = Math.exp(logits[row + j] - max);
    for (let j = 0; j < k; j++) p[row + j] /= sum;
  }
  return p;
}

/**
 * Inception Score of n class-probability rows p(y|x) over k classes. A zero probability adds
 * nothing to the KL sum (the limit p log p -> 0; numpy would give NaN there).
 */
export function inceptionScore(
  probs: Float32Array | Float64Array,
  n: number,
  k: number,
  splits = 10,
): InceptionScoreResult {
  if (probs.length !== n * k) {
    throw new RangeError(`probabilities: ${probs.length} values, expected ${n}x${k}`);
  }
  if (!Number.isInteger(splits) || splits < 1 || n < splits) {
    throw new RangeError(
      `the Inception Score needs at least ${splits} images for ${splits} splits, got ${n}`,
    );
  }
  const scores: number[] = [];
  const marginal = new Float64Array(k);
  for (let s = 0; s < splits; s++) {
    const start = Math.floor((s * n) / splits);
    const end = Math.floor(((s + 1) * n) / splits);
    const rows = end - start;
    marginal.fill(0);
    for (let i = start; i < end; i++) {
      for (let j = 0; j < k; j++) marginal[j] += probs[i * k + j];
    }
    for (let j = 0; j < k; j++) marginal[j] /= rows;
    let klSum = 0;
    for (let i = start; i < end; i++) {
      for (let j = 0; j < k; j++) {
        const p = probs[i * k + j];
        if (p > 0) klSum += p * (Math.log(p) - Math.log(marginal[j]));
      }
    }
    scores.push(Math.exp(klSum / rows));
  }
  const mean = scores.reduce((a, b) => a + b, 0) / splits;
  const variance = scores.reduce((a, b) => a + (b - mean) ** 2, 0) / splits;
  return { mean, std: Math.sqrt(variance), splits, n };
}

/** Inception Score from n x k class logits (e.g. a FeatureSet's `logits`): softmax, then the score. */
export function inceptionScoreFromLogits(
  logits: Float32Array | Float64Array,
  n: number,
  k: number,
  splits = 10,
): InceptionScoreResult {
  return inceptionScore(softmaxRows(logits, n, k), n, k, splits);
}
