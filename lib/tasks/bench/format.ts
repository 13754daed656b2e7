/** A readable summary of a benchmark result (the JSON lines carry every number). */
import type { BenchResult } from "./run.ts";

const mib = (b: number | null) => (b === null ? "?" : `${(b / 2 ** 20).toFixed(1)} MiB`);

export function formatSummary(r: BenchResult): string {
  const out: string[] = [];
  out.push(
    `${r.preset.name} (batch ${r.preset.batch}) on ${r.backend.backend}: ${r.backend.adapter}`,
  );
  for (const l of r.lines) {
    const rate = l.image_steps_per_s !== undefined
      ? `${l.image_steps_per_s.toFixed(1)} image-steps/s`
      : `${l.iters_per_s!.toFixed(3)} iters/s`;
    const memory = Number.isFinite(l.peak_tensor_bytes)
      ? `; peak tensors ${mib(l.peak_tensor_bytes)}, peak RSS ${mib(l.peak_rss_bytes)}`
      : "";
    out.push(
      `  ours ${l.workload.padEnd(13)} ${rate.padEnd(22)} ${
        (l.seconds * 1000).toFixed(1)
      } ms/run ` +
        `(median ${(l.median_seconds * 1000).toFixed(1)}, ${l.reps} reps)${memory}, ` +
        `kernels: ${l.kernels}`,
    );
  }
  for (const l of r.peer) {
    const rate = typeof l.image_steps_per_s === "number"
      ? `${l.image_steps_per_s.toFixed(1)} image-steps/s`
      : `${(l.iters_per_s as number).toFixed(3)} iters/s`;
    out.push(
      `  peer ${l.workload.padEnd(13)} ${rate.padEnd(22)} ${
        (l.seconds * 1000).toFixed(1)
      } ms/run ` +
        `(${l.peer}, ${l.threads ?? "?"} threads)`,
    );
  }
  for (const q of r.ratios) {
    const spread = q.pairs > 1
      ? ` (median of ${q.pairs} interleaved rounds; ${q.min.toFixed(3)}x to ${q.max.toFixed(3)}x)`
      : "";
    out.push(`  ratio ours/peer ${q.workload.padEnd(13)} ${q.value.toFixed(3)}x${spread}`);
  }
  return out.join("\n");
}
