/**
 * The benchmark of bench/SPEC.md: our two workloads on the chosen backend, optionally the
 * PyTorch peer in the same invocation, and the ratios ours / peer.
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendChoice, type BackendInfo, initBackend, type Probe } from "../../backend.ts";
import { installFastKernels } from "../../kernels/mod.ts";
import { type ConvKernelLine, timeConvKernels } from "./conv_kernels.ts";
import { setWebgpuKernelsEnabled, webgpuKernelsEnabled } from "../../kernels/webgpu/enabled.ts";
import { describeLaunchShapes } from "../../kernels/webgpu/workgroups.ts";
import { countParams } from "../../nets/mod.ts";
import { createTrainState, type TrainState } from "../../train_state.ts";
import { measureMemory, type MemoryUse, timeWorkload } from "./measure.ts";
import { checkPeerPath, type PeerLine, runPeer } from "./peer.ts";
import { type Profile, profileWorkload } from "./profile.ts";
import { type AnyBenchPreset, benchPreset, benchTrainConfig, defaultMcmcSteps } from "./presets.ts";
import {
  langevinStepWorkload,
  trainIterWorkload,
  type Workload,
  WORKLOAD_NAMES,
  type WorkloadName,
} from "./workloads.ts";

export const IMPL = `drl-deno-tfjs-${tf.version.tfjs}`;

export interface BenchOptions {
  /** A preset name of SPEC.md, or a preset (tests use tiny ones). */
  preset: string | AnyBenchPreset;
  backend: BackendChoice;
  /** Timed runs of langevin_step; train_iter gets max(1, reps / 2), as in the peer. */
  reps: number;
  /** Langevin steps per train_iter (SPEC: 30 for images; toy2d: its training preset's K). */
  mcmcSteps?: number;
  workloads?: readonly WorkloadName[];
  peer?: { path: string; python: string; threads?: number; device?: "cpu" | "cuda" } | null;
  /** Also profile one run of each workload by kernel (tf.profile). */
  profile?: boolean;
  /** Also time one convolution's three directions alone (conv_kernels.ts). */
  conv?: boolean;
  /**
   * The project's own kernels: oneDNN where it loads (cpu and wasm backends), the fused WGSL
   * kernels on webgpu; false runs tfjs's stock kernels. Default true.
   */
  native?: boolean;
  /** oneDNN's threads (default: every core). */
  threads?: number;
  /**
   * With a peer: rounds of (ours, peer), interleaved so both see the same machine over time; the
   * ratio reported is the median over the rounds, with its spread (default 5; 1 without a peer).
   */
  pairs?: number;
  /** Overrides the preset's batch (the memory and scaling table). */
  batch?: number;
}

/** One result line: the peer's fields (impl in place of peer) plus backend, adapter and memory. */
export interface BenchLine {
  impl: string;
  backend: string;
  adapter: string;
  /**
   * The kernels under tfjs: "tfjs", the native library (e.g. "oneDNN 2.6.3, 1 thread(s)") or the
   * fused WGSL kernels with their launch shapes.
   */
  kernels: string;
  preset: string;
  batch: number;
  params: number;
  workload: WorkloadName;
  mcmc_steps?: number;
  seconds: number;
  median_seconds: number;
  min_seconds: number;
  reps: number;
  image_steps_per_s?: number;
  iters_per_s?: number;
  peak_tensor_bytes: number;
  leaked_tensors: number;
  peak_rss_bytes: number | null;
  wasm_heap_bytes: number | null;
}

export interface RatioLine {
  ratio: "ours/peer";
  preset: string;
  workload: string;
  metric: "image_steps_per_s" | "iters_per_s";
  ours: number;
  peer: number;
  /** The median over the rounds of ours / peer. */
  value: number;
  /** The smallest and largest ratio over the rounds. */
  min: number;
  max: number;
  /** Rounds (each: ours, then the peer). */
  pairs: number;
  peer_threads?: number;
}

export interface BenchResult {
  backend: BackendInfo;
  preset: AnyBenchPreset;
  lines: BenchLine[];
  peer: PeerLine[];
  ratios: RatioLine[];
  profiles: { workload: WorkloadName; profile: Profile }[];
  /** With `conv`: one convolution's kernels timed alone. */
  convKernels: ConvKernelLine[];
}

function makeWorkload(name: WorkloadName, s: TrainState, batch: number): Workload {
  return name === "langevin_step" ? langevinStepWorkload(s, batch) : trainIterWorkload(s, batch);
}

function disposeState(s: TrainState): void {
  s.net.dispose();
  s.adam.dispose();
  s.ema.dispose();
  s.st.dispose();
}

/**
 * The backend probe for --backend auto: one Langevin step of this preset's net, at a batch of at
 * most 16 (as lib/run.ts's probe) so slow candidates do not take minutes on the large presets.
 */
function langevinProbe(p: AnyBenchPreset): Probe {
  const s = createTrainState(benchTrainConfig(p));
  const w = langevinStepWorkload(s, Math.min(p.batch, 16));
  return {
    run: () => w.run(),
    dispose: () => {
      w.dispose();
      disposeState(s);
    },
  };
}

const metricOf = (w: WorkloadName) => (w === "langevin_step" ? "image_steps_per_s" : "iters_per_s");

export function ratiosOf(lines: BenchLine[], peer: PeerLine[]): RatioLine[] {
  const out: RatioLine[] = [];
  for (const ours of lines) {
    const metric = metricOf(ours.workload);
    const theirs = peer.find((l) => l.workload === ours.workload && l.preset === ours.preset);
    const a = ours[metric], b = theirs?.[metric];
    if (a === undefined || typeof b !== "number" || !(b > 0)) continue;
    out.push({
      ratio: "ours/peer",
      preset: ours.preset,
      workload: ours.workload,
      metric,
      ours: a,
      peer: b,
      value: a / b,
      min: a / b,
      max: a / b,
      pairs: 1,
      peer_threads: theirs?.threads,
    });
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per workload over the rounds: the median ratio (and of ours and the peer), min and max. */
export function summarizeRatios(rounds: RatioLine[][]): RatioLine[] {
  const byWorkload = new Map<string, RatioLine[]>();
  for (const round of rounds) {
    for (const r of round) byWorkload.set(r.workload, [...(byWorkload.get(r.workload) ?? []), r]);
  }
  return [...byWorkload.values()].map((rs) => ({
    ...rs[0],
    ours: median(rs.map((r) => r.ours)),
    peer: median(rs.map((r) => r.peer)),
    value: median(rs.map((r) => r.value)),
    min: Math.min(...rs.map((r) => r.value)),
    max: Math.max(...rs.map((r) => r.value)),
    pairs: rs.length,
  }));
}

export async function runBench(
  opts: BenchOptions,
  log: (line: string) => void = () => {},
): Promise<BenchResult> {
  const preset = typeof opts.preset === "string" ? benchPreset(opts.preset) : opts.preset;
  const mcmcSteps = opts.mcmcSteps ?? defaultMcmcSteps(preset);
  if (opts.peer) await checkPeerPath(opts.peer.path);
  const native = installFastKernels({ native: opts.native ?? true, threads: opts.threads });
  setWebgpuKernelsEnabled(opts.native ?? true);
  log(`native kernels: ${native.description}`);
  const backend = await initBackend(opts.backend, () => langevinProbe(preset));
  log(`backend: ${backend.backend} (${backend.adapter}); ${backend.reason}`);
  const kernels = backend.backend === "webgpu"
    ? (webgpuKernelsEnabled() ? `fused WGSL (${describeLaunchShapes()})` : "tfjs")
    : (native.backends as string[]).includes(backend.backend)
    ? native.description
    : "tfjs";
  const batch = opts.batch ?? preset.batch;
  const s = createTrainState(benchTrainConfig({ ...preset, batch }, mcmcSteps));
  const profiles: BenchResult["profiles"] = [];
  /** One round of our workloads (memory and profiles in the first only). */
  const timeOurs = async (first: boolean): Promise<BenchLine[]> => {
    const lines: BenchLine[] = [];
    for (const name of opts.workloads ?? WORKLOAD_NAMES) {
      const w = makeWorkload(name, s, batch);
      try {
        const isTrain = name === "train_iter";
        const reps = isTrain ? Math.max(1, Math.floor(opts.reps / 2)) : opts.reps;
        log(`timing ${name}: ${isTrain ? 1 : 2} warm-up, ${reps} timed`);
        const timing = await timeWorkload(w, reps, isTrain ? 1 : 2);
        const mem: MemoryUse | null = first ? await measureMemory(w) : null;
        if (first && opts.profile) {
          profiles.push({ workload: name, profile: await profileWorkload(w) });
        }
        lines.push({
          impl: IMPL,
          backend: backend.backend,
          adapter: backend.adapter,
          kernels,
          preset: preset.name,
          batch,
          params: countParams(s.net),
          workload: name,
          ...(isTrain ? { mcmc_steps: mcmcSteps } : {}),
          seconds: timing.seconds,
          median_seconds: timing.medianSeconds,
          min_seconds: timing.minSeconds,
          reps: timing.reps,
          ...(isTrain
            ? { iters_per_s: 1 / timing.seconds }
            : { image_steps_per_s: batch / timing.seconds }),
          peak_tensor_bytes: mem?.peakTensorBytes ?? NaN,
          leaked_tensors: mem?.leakedTensors ?? NaN,
          peak_rss_bytes: mem?.peakRssBytes ?? null,
          wasm_heap_bytes: mem?.wasmHeapBytes ?? null,
        });
      } finally {
        w.dispose();
      }
    }
    return lines;
  };
  // Interleaved rounds: ours, peer, ours, peer, ... so a machine that changes speed over the
  // minutes changes both sides alike; the ratio is each round's, summarised by its median.
  const pairs = opts.peer ? Math.max(1, opts.pairs ?? 5) : 1;
  const rounds: { lines: BenchLine[]; peer: PeerLine[] }[] = [];
  try {
    for (let round = 0; round < pairs; round++) {
      if (pairs > 1) log(`round ${round + 1} of ${pairs}`);
      const lines = await timeOurs(round === 0);
      let peer: PeerLine[] = [];
      if (opts.peer) {
        log(`running the peer ${opts.peer.path}`);
        peer = await runPeer({
          ...opts.peer,
          preset: preset.name,
          reps: opts.reps,
          mcmcSteps,
          batch,
        });
      }
      rounds.push({ lines, peer });
    }
  } finally {
    disposeState(s);
  }
  let convKernels: ConvKernelLine[] = [];
  if (opts.conv) {
    log("timing one convolution's kernels alone");
    convKernels = await timeConvKernels();
  }
  // Every round's lines are kept (memory is measured in the first round only).
  const lines = rounds.flatMap((r) => r.lines);
  const peer = rounds.flatMap((r) => r.peer);
  const ratios = summarizeRatios(rounds.map((r) => ratiosOf(r.lines, r.peer)));
  return { backend, preset: { ...preset, batch }, lines, peer, ratios, profiles, convKernels };
}
