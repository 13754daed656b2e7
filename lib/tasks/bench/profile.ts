/**
 * Where a workload's time goes: one run under tf.profile, kernel times summed by kernel name
 * (each kernel timed by its backend: wall time on cpu and wasm), and the rest of the wall time,
 * which is tfjs's own work between kernels (op dispatch, autodiff tape, tidy scopes, tensor
 * bookkeeping), the JS-side random numbers and the read-back.
 */
import * as tf from "@tensorflow/tfjs";
import type { Workload } from "./workloads.ts";

export interface KernelShare {
  kernel: string;
  calls: number;
  ms: number;
}

export interface Profile {
  wallMs: number;
  kernelMs: number;
  /** wallMs - kernelMs. */
  overheadMs: number;
  kernelCalls: number;
  /** Kernels by total time, largest first. */
  kernels: KernelShare[];
}

export async function profileWorkload(w: Workload): Promise<Profile> {
  const t0 = performance.now();
  const info = await tf.profile(() => w.run());
  const wallMs = performance.now() - t0;
  const byName = new Map<string, KernelShare>();
  let kernelMs = 0;
  for (const k of info.kernels) {
    const ms = Number(k.kernelTimeMs) || 0;
    kernelMs += ms;
    const share = byName.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
    share.calls++;
    share.ms += ms;
    byName.set(k.name, share);
  }
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return {
    wallMs,
    kernelMs,
    overheadMs: wallMs - kernelMs,
    kernelCalls: info.kernels.length,
    kernels,
  };
}

export function formatProfile(p: Profile, top = 15): string {
  const pct = (ms: number) => `${((100 * ms) / p.wallMs).toFixed(1)}%`;
  const out = [
    `wall ${p.wallMs.toFixed(1)} ms: kernels ${p.kernelMs.toFixed(1)} ms (${pct(p.kernelMs)}, ` +
    `${p.kernelCalls} calls), outside kernels ${p.overheadMs.toFixed(1)} ms (${pct(p.overheadMs)})`,
  ];
  for (const k of p.kernels.slice(0, top)) {
    out.push(
      `  ${k.kernel.padEnd(24)} ${k.ms.toFixed(1).padStart(9)} ms ${pct(k.ms).padStart(6)} ` +
        `${String(k.calls).padStart(5)} calls`,
    );
  }
  return out.join("\n");
}
