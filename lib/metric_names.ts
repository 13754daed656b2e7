/**
 * Every metric and evaluation name the project writes, with its direction and unit: the one
 * table the writers (training, sampling, evaluation, bench), `compare`, the HTML report and the
 * test fixtures take their names from. A name outside it does not type-check at a writer; rows
 * read back from a database keep whatever name was stored (typed as a MetricName, unchecked).
 */

/** A stored name read back (a database, a journal, an export file): kept as it was written. */
export const storedName = (name: string): MetricName => name as MetricName;

export type Direction = "lower" | "higher" | "none";

export interface MetricInfo {
  /** Which way is better, for ranking; "none" for values that are not better either way. */
  direction: Direction;
  unit: string;
  about: string;
}

const m = (direction: Direction, unit: string, about: string): MetricInfo => ({
  direction,
  unit,
  about,
});

export const METRICS = {
  // Training, per step (and per level where it has one).
  loss: m("none", "", "recovery-likelihood loss -(f(pos) - f(neg)) sigma_1 / sigma_{t+1}"),
  f_pos: m("none", "", "energy f of the positives"),
  f_neg: m("none", "", "energy f of the Langevin negatives"),
  acceptance: m("none", "probability", "mean Metropolis-Hastings acceptance of the chains"),
  displacement: m("none", "", "||y_K - y_0|| of the chains"),
  grad_norm: m("none", "", "global gradient norm before clipping"),
  lr: m("none", "", "learning rate of the step"),
  seconds_per_step: m("lower", "s", "wall time per training step"),
  eval_acceptance: m("none", "probability", "acceptance of the evaluation's chains"),
  eval_displacement: m("none", "", "displacement of the evaluation's chains"),
  // Long-run chains (deno task sample --long-run).
  longrun_energy: m("none", "", "mean f(y, 0) of the long-run chains"),
  longrun_mean: m("none", "", "mean pixel value of the long-run chains"),
  longrun_std: m("none", "", "pixel standard deviation of the long-run chains"),
  longrun_outside: m("lower", "share", "share of values outside [-1, 1]"),
  longrun_acceptance: m("none", "probability", "acceptance since the previous snapshot"),
  // Image evaluations.
  fid: m("lower", "", "Frechet distance of features (Heusel et al. 2017)"),
  is: m("higher", "", "Inception Score (Salimans et al. 2016)"),
  kid: m("lower", "", "kernel inception distance (Binkowski et al. 2018)"),
  // 2D evaluations.
  energy_distance: m("lower", "", "energy distance between samples and held-out data"),
  energy_distance_data_baseline: m("none", "", "the same statistic for a fresh data draw"),
  energy_distance_data_baseline_mean: m("none", "", "its mean over 10 more fresh data draws"),
  non_finite_share: m("lower", "share", "share of samples that are not finite"),
  min_mode_share: m("higher", "share", "smallest share of samples within 3 std of a mode"),
  max_mode_share: m("none", "share", "largest share of samples within 3 std of a mode"),
  off_mode_share: m("lower", "share", "share of samples near no mode"),
  checkerboard_share: m("higher", "share", "share of samples on the data squares"),
  checkerboard_share_uniform_baseline: m("none", "share", "the same share for uniform points"),
  heldout_loglik: m("higher", "nats", "held-out log-likelihood of the level-0 density"),
  heldout_loglik_true: m("none", "nats", "the true density's held-out log-likelihood"),
  heldout_loglik_true_on_grid: m("none", "nats", "the true density normalised on the grid"),
  marginal_kl: m(
    "lower",
    "nats",
    "mean over the figure's levels of KL(true || learned) of the level marginals on the grid",
  ),
  // Likelihood under the chain of conditionals (deno task loglik, lib/loglik.ts).
  ais_loglik: m("higher", "nats", "log p(x_0) under the chain of conditional EBMs, by AIS"),
  ais_loglik_exact_model: m(
    "none",
    "nats",
    "the same AIS estimate for the data's exact chain (the estimator's own error: minus the truth)",
  ),
  ais_bits_per_dim: m("lower", "bits/dim", "the same in bits per dimension (images dequantised)"),
  // Benchmarks (per workload line; see also the patterns below).
  image_steps_per_s: m("higher", "1/s", "Langevin image-steps per second"),
  iters_per_s: m("higher", "1/s", "training iterations per second"),
} as const satisfies Record<string, MetricInfo>;

/** Names built from a workload, a peer metric (lib/bench/record.ts) or a sanity row's disturbance. */
export type PatternMetricName =
  | `fid_${string}`
  | `peer_${string}`
  | `ratio_${string}`
  | `${string}.peak_tensor_bytes`;

export type MetricName = keyof typeof METRICS | PatternMetricName;

const PATTERNS: [RegExp, MetricInfo][] = [
  [/^fid_/, m("none", "", "FID of a disturbed data set (deno task sanity)")],
  [/^peer_/, m("higher", "1/s", "the PyTorch peer's figure")],
  [/^ratio_/, m("higher", "", "ours / peer")],
  [/\.peak_tensor_bytes$/, m("lower", "bytes", "peak tensor memory of a workload")],
];

/** The table's entry for `name` (exact, then the patterns), or null for a name it lacks. */
export function metricInfo(name: string): MetricInfo | null {
  const exact = (METRICS as Record<string, MetricInfo>)[name];
  if (exact) return exact;
  return PATTERNS.find(([re]) => re.test(name))?.[1] ?? null;
}

/** For ranking: true unless the table says larger is better (unknown names: lower). */
export function lowerIsBetter(name: string): boolean {
  return metricInfo(name.toLowerCase())?.direction !== "higher";
}
