/**
 * A benchmark invocation in the results database: one run with task "bench" per preset, and one
 * evaluation row per number (ours, the peer's, the ratio), each carrying its full JSON line.
 */
import type { MetricName } from "../../metric_names.ts";
import type { ResultsDb } from "../../db/mod.ts";
import type { BenchResult } from "./run.ts";

export const BENCH_TASK = "bench";

/** The evaluation rows of a result: name, value and details, without the run id. */
export function benchEvaluations(
  r: BenchResult,
): { name: MetricName; value: number; n: number; details: unknown }[] {
  const rows: { name: MetricName; value: number; n: number; details: unknown }[] = [];
  for (const line of r.lines) {
    const metric = line.workload === "langevin_step" ? "image_steps_per_s" : "iters_per_s";
    rows.push({ name: metric, value: line[metric]!, n: line.reps, details: line });
    // Memory is measured in the first round only.
    if (!Number.isFinite(line.peak_tensor_bytes)) continue;
    rows.push({
      name: `${line.workload}.peak_tensor_bytes`,
      value: line.peak_tensor_bytes,
      n: 1,
      details: { peak_rss_bytes: line.peak_rss_bytes, wasm_heap_bytes: line.wasm_heap_bytes },
    });
  }
  for (const line of r.peer) {
    const metric = line.workload === "langevin_step" ? "image_steps_per_s" : "iters_per_s";
    const value = line[metric];
    if (typeof value === "number") {
      rows.push({ name: `peer_${metric}`, value, n: 1, details: line });
    }
  }
  for (const ratio of r.ratios) {
    rows.push({ name: `ratio_${ratio.metric}`, value: ratio.value, n: 1, details: ratio });
  }
  return rows;
}

/** Records the result as a completed "bench" run; returns the run id. */
export async function recordBench(
  db: ResultsDb,
  r: BenchResult,
  extra: { gitCommit: string | null; config: Record<string, unknown> },
): Promise<number> {
  const runId = await db.createRun({
    task: BENCH_TASK,
    preset: r.preset.name,
    config: { ...extra.config, preset: r.preset },
    gitCommit: extra.gitCommit,
    backend: r.backend.backend,
    adapter: r.backend.adapter,
    seed: 0,
    dir: null,
  });
  for (const row of benchEvaluations(r)) await db.addEvaluation({ runId, ...row });
  await db.setRunStatus(runId, "completed");
  return runId;
}
