/**
 * deno task loglik (--run ID [--step N] | --model NAME | --checkpoint PATH) [--n N] [--ais-steps S]
 *   [--particles M] [--step-scale X] [--fixed-step] [--seed S] [--batch B] [--split test|train]
 *   [--exact] [--backend B] [--threads N] [--db PATH] [--json]
 * The log-likelihood of held-out data under a model's chain of conditional EBMs, each level's
 * normaliser by annealed importance sampling (lib/loglik.ts): nats and bits/dim, recorded as
 * evaluations of the run (a model file's result is only printed).
 */
import { Command } from "commander";
import { applyThreads, intOption, optionalInt, parseCommand, THREADS_HELP } from "../lib/cli.ts";
import { BACKEND_CHOICES, type BackendChoice, initBackend } from "../lib/backend.ts";
import { dbOptionsFor, openResultsDb } from "../lib/db/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { createProgress, type Progress } from "../lib/io/progress.ts";
import { type LoglikSource, runLoglik } from "../lib/tasks/loglik.ts";
import type { LevelLogLik } from "../lib/loglik.ts";
import { SHIPPED_MODELS, shippedModelPath } from "../lib/models.ts";
import type { ResultsDb } from "../lib/db/mod.ts";

interface Opts {
  run?: string;
  model?: string;
  checkpoint?: string;
  step?: string;
  n: string;
  aisSteps?: string;
  particles: string;
  stepScale: string;
  fixedStep?: boolean;
  exact?: boolean;
  seed: string;
  batch?: string;
  split: string;
  backend: string;
  threads?: string;
  db?: string;
  json?: boolean;
}

/** "1.234 +- 0.005" with the error's precision. */
function pm(value: number, se: number): string {
  if (!Number.isFinite(se)) return value.toFixed(4);
  const digits = Math.min(6, Math.max(2, 1 - Math.floor(Math.log10(Math.max(se, 1e-12)))));
  return `${value.toFixed(digits)} +- ${se.toFixed(digits)}`;
}

/**
 * The exact chain's estimate beside the truth (the estimator's own error at these settings), and
 * the model's per-level terms minus the exact chain's, summed over bands of levels.
 */
function printExact(
  exact: { summary: { mean: number; se: number }; levels: LevelLogLik[] },
  levels: LevelLogLik[],
  truth: number,
): void {
  const e = exact.summary;
  console.log(
    `  exact chain   ${pm(e.mean, e.se)} nats on the same points and draws: the estimator's ` +
      `error here ${(e.mean - truth).toFixed(3)} nats (true ${truth.toFixed(4)})`,
  );
  const T = levels.length;
  const edges = [0, 1, 5, 20, 50, T - 1, T].filter((x, i, a) =>
    x <= T && (i === 0 || x > a[i - 1])
  );
  const bands = edges.slice(0, -1).map((lo, i) => {
    const hi = edges[i + 1];
    let d = 0;
    for (let t = lo; t < hi; t++) d += levels[t].term - exact.levels[t].term;
    return `${hi - lo === 1 ? lo : `${lo}-${hi - 1}`}: ${d >= 0 ? "+" : ""}${d.toFixed(3)}`;
  });
  console.log(`  model - exact by levels  ${bands.join(", ")}`);
}

await runMain(async () => {
  const program = new Command("loglik")
    .description(
      "log-likelihood of data under a model's chain of conditional EBMs (AIS per level), in " +
        "nats and bits/dim; a run's result is written to the results database",
    )
    .option("--run <id>", "the training run to score (deno task compare lists them)")
    .option("--model <name>", `a model shipped in models/ (${SHIPPED_MODELS.join(", ")})`)
    .option("--checkpoint <path>", "a checkpoint or model file (reported, not recorded)")
    .option("--step <n>", "the checkpoint the run kept at this step (--keep-every)")
    .option("--n <n>", "data points: fresh 2D draws, or the split's first images", "1000")
    .option("--ais-steps <s>", "AIS temperatures per level (default: 6000 / T, at least 10)")
    .option("--particles <m>", "AIS chains per level and data point (>= 2: AIS error too)", "4")
    .option("--step-scale <x>", "multiplies the AIS transitions' first MALA step", "1")
    .option("--fixed-step", "no step adaptation: exactly unbiased AIS weights")
    .option(
      "--exact",
      "2D data (Gaussian mixtures, curve sets): also score the data's exact chain with the same " +
        "draws (the estimator's own error, and per level where the model loses)",
    )
    .option("--seed <s>", "seed of the data draws, trajectories and AIS", "0")
    .option("--batch <b>", "data points per batch (default 256 for 2D, 8 for images)")
    .option("--split <split>", "image runs: the split scored (test | train)", "test")
    .option("--backend <b>", BACKEND_CHOICES.join(" | "), "auto")
    .option("--threads <n>", THREADS_HELP)
    .option("--db <path>", "results database (SQLite path or postgres:// URL)")
    .option("--json", "print the result as one JSON line");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<Opts>();
  applyThreads(o.threads);
  if ([o.run, o.model, o.checkpoint].filter((x) => x !== undefined).length !== 1) {
    throw new UserError(
      "give exactly one of --run ID (deno task compare lists runs), --model NAME or " +
        "--checkpoint PATH",
    );
  }
  if (o.step !== undefined && o.run === undefined) {
    throw new UserError("--step picks a checkpoint of a run: give it with --run");
  }
  const runId = o.run === undefined ? null : intOption("run", o.run, 1);
  const step = optionalInt("step", o.step, 0);
  const n = intOption("n", o.n, 2);
  const aisSteps = optionalInt("ais-steps", o.aisSteps, 1);
  const particles = intOption("particles", o.particles, 1);
  const seed = intOption("seed", o.seed, 0);
  const batch = optionalInt("batch", o.batch, 1);
  const stepScale = Number(o.stepScale);
  if (!(stepScale > 0 && Number.isFinite(stepScale))) {
    throw new UserError(`--step-scale must be a positive number (got '${o.stepScale}')`);
  }
  if (!["train", "test"].includes(o.split)) {
    throw new UserError(`--split is test or train (got '${o.split}')`);
  }
  if (!BACKEND_CHOICES.includes(o.backend as BackendChoice)) {
    throw new UserError(`--backend is one of ${BACKEND_CHOICES.join(", ")}`);
  }
  // Only a run needs the database.
  const db: ResultsDb | null = runId === null ? null : await openResultsDb(dbOptionsFor(o.db));
  try {
    let source: LoglikSource;
    if (db && runId !== null) {
      // A bad run id is one line before the backend starts.
      if (!(await db.getRun(runId))) {
        throw new UserError(`no run ${runId} in ${db.location}; list runs with: deno task compare`);
      }
      source = { db, runId, step };
    } else {
      source = { checkpoint: o.checkpoint ?? await shippedModelPath(o.model!) };
    }
    const backend = await initBackend(o.backend as BackendChoice);
    // Created at the first level, when the total is known.
    const bar: { progress: Progress | null } = { progress: null };
    const r = await runLoglik({
      source,
      n,
      aisSteps,
      particles,
      stepScale,
      adaptStep: !o.fixedStep,
      seed,
      batch,
      split: o.split,
      exact: o.exact ?? false,
      onProgress: (done, total) => {
        bar.progress ??= createProgress(total, 0, { write: (line) => console.error(line) });
        bar.progress.update(done, "levels x batches");
      },
    });
    bar.progress?.stop();
    const { summary: s } = r;
    if (o.json) {
      console.log(JSON.stringify({
        run: r.run?.id ?? null,
        checkpoint: "checkpoint" in source ? source.checkpoint : null,
        step: r.step,
        dataset: r.dataset,
        split: r.split,
        T: r.T,
        n: s.n,
        ais_steps: r.aisSteps,
        particles,
        seed,
        loglik: s.mean,
        loglik_se: Number.isFinite(s.se) ? s.se : null,
        loglik_ais_se: Number.isFinite(s.aisSe) ? s.aisSe : null,
        bits_per_dim: r.bitsPerDim,
        bits_per_dim_se: Number.isFinite(r.bitsPerDimSe) ? r.bitsPerDimSe : null,
        true_loglik: r.trueLogLik,
        exact_loglik: r.exact?.summary.mean ?? null,
        exact_loglik_se: r.exact && Number.isFinite(r.exact.summary.se) ? r.exact.summary.se : null,
        seconds: r.seconds,
      }));
      return;
    }
    const what = r.split === null
      ? `${s.n} fresh ${r.dataset} points`
      : `the first ${s.n} ${r.dataset} ${r.split} images, dequantised`;
    const scored = r.run
      ? `run ${r.run.id} (${r.run.preset})`
      : o.model ?? ("checkpoint" in source ? source.checkpoint : "");
    console.log(
      `${scored} at step ${r.step}: T=${r.T}, ${what}; AIS ${r.aisSteps} ` +
        `steps x ${particles} particle(s) per level; backend ${backend.backend}; ` +
        `${r.seconds.toFixed(1)} s`,
    );
    const ais = Number.isFinite(s.aisSe) ? ` (AIS part +- ${s.aisSe.toPrecision(2)})` : "";
    const truth = r.trueLogLik === null ? "" : `; true density ${r.trueLogLik.toFixed(4)} nats`;
    console.log(`  log-likelihood ${pm(s.mean, s.se)} nats per data point${ais}${truth}`);
    console.log(`  bits/dim       ${pm(r.bitsPerDim, r.bitsPerDimSe)}`);
    // The hardest level's AIS: where more --ais-steps pay. Log-weights spread over many nats mean a
    // few particles carry the estimate (the delta-method error above then understates the error);
    // the estimate moving when --ais-steps doubles is the test.
    const hardest = r.levels.reduce((a, b) => (b.logWeightSd > a.logWeightSd ? b : a));
    if (Number.isFinite(hardest.logWeightSd)) {
      console.log(
        `  hardest level ${hardest.level}: log-weights spread ${
          hardest.logWeightSd.toPrecision(2)
        } nats (sd over particles), acceptance ${hardest.acceptance.toFixed(2)}` +
          (hardest.logWeightSd > 1 ? "; unreliable: raise --ais-steps" : ""),
      );
    }
    if (r.exact) printExact(r.exact, r.levels, r.trueLogLik!);
    if (db && r.run) console.log(`written to ${db.location} as evaluations of run ${r.run.id}`);
  } finally {
    await db?.close();
  }
});
