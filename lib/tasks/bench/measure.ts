/**
 * Timing and memory of one workload: warm-up runs first (shader compilation, XNNPACK operator
 * creation, first-call costs), then `reps` timed runs, each ending with a read-back; then one
 * profiled run for the peak of tfjs's tensor memory.
 */
import * as tf from "@tensorflow/tfjs";
import type { Workload } from "./workloads.ts";

export interface Timing {
  /** Mean seconds per run (as the peer reports). */
  seconds: number;
  medianSeconds: number;
  minSeconds: number;
  reps: number;
}

export interface MemoryUse {
  /** Peak of tf.memory().numBytes during one run (all live tensors, parameters included). */
  peakTensorBytes: number;
  /** Tensors and bytes a run left behind (0 when nothing leaks). */
  leakedTensors: number;
  leakedBytes: number;
  /** The process's peak resident set so far (Linux VmHWM), or null where unknown. */
  peakRssBytes: number | null;
  rssBytes: number;
  /** The wasm backend's linear memory (tensors live there), or null on other backends. */
  wasmHeapBytes: number | null;
}

export async function timeWorkload(w: Workload, reps: number, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await w.run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await w.run();
    times.push((performance.now() - t0) / 1000);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    seconds: times.reduce((a, b) => a + b, 0) / times.length,
    medianSeconds: sorted[Math.floor(sorted.length / 2)],
    minSeconds: sorted[0],
    reps,
  };
}

/** Peak resident set (VmHWM) from /proc, in bytes; null off Linux or without read access. */
export function peakRssBytes(): number | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== "wasm") return null;
  // deno-lint-ignore no-explicit-any
  const heap = (tf.backend() as any).wasm?.HEAPU8 as Uint8Array | undefined;
  return heap ? heap.byteLength : null;
}

export async function measureMemory(w: Workload): Promise<MemoryUse> {
  const info = await tf.profile(async () => {
    await w.run();
  });
  return {
    peakTensorBytes: info.peakBytes,
    leakedTensors: info.newTensors,
    leakedBytes: info.newBytes,
    peakRssBytes: peakRssBytes(),
    rssBytes: Deno.memoryUsage().rss,
    wasmHeapBytes: wasmHeapBytes(),
  };
}
