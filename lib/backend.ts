/**
 * Backend choice. WebGPU on a hardware adapter; without one, the fastest backend that can run the
 * actual workload, measured at start (a candidate that throws on the probe is skipped). On wasm the
 * project's own kernels (lib/kernels: convolution gradients as forward convolutions, oneDNN through
 * FFI when Debian's libdnnl2 is present) stand in for the gradient kernels tfjs-wasm lacks.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { UserError } from "./errors.ts";
import { medianRunMs } from "./tensor_util.ts";
import { ensureFastKernels, nativeKernelsStatus } from "./kernels/mod.ts";
import { webgpuKernelsEnabled } from "./kernels/webgpu/enabled.ts";
import { tuneLaunchShapes } from "./kernels/webgpu/tune.ts";

export type BackendName = "webgpu" | "wasm" | "cpu";
export type BackendChoice = "auto" | BackendName;
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm", "cpu"];

export interface BackendInfo {
  backend: BackendName;
  /** Adapter description (WebGPU), or the CPU path used. */
  adapter: string;
  /** How the choice was made, with the measured timings when it was measured. */
  reason: string;
}

// PROD silences tfjs's hint to install tfjs-node (it sees Deno as Node); IS_NODE must stay on so
// the wasm backend loads its single-threaded build from the file system.
tf.env().set("PROD", true);

/**
 * Mesa's Vulkan drivers print "error: XDG_RUNTIME_DIR is invalid or not set" on stderr whenever a
 * WebGPU adapter is looked up without it (tfjs looks one up even for --backend wasm): give the
 * process a private runtime folder, as a login session would, so nothing the user did is blamed.
 */
function ensureRuntimeDir(): void {
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/drl-runtime-${Deno.uid() ?? "user"}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // no --allow-env or --allow-write: the message stays, nothing else changes
  }
}
ensureRuntimeDir();

const WASM_DIR = new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url);
let wasmPathsSet = false;

interface AdapterFacts {
  description: string;
  fallback: boolean;
}

let adapterFacts: AdapterFacts | null | undefined;

/** The WebGPU adapter, if any (Deno needs --unstable-webgpu for navigator.gpu). */
export async function webgpuAdapter(): Promise<AdapterFacts | null> {
  if (adapterFacts !== undefined) return adapterFacts;
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu;
  if (!gpu) return (adapterFacts = null);
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return (adapterFacts = null);
    const info = adapter.info ?? {};
    const description = [info.description, info.vendor && `vendor ${info.vendor}`]
      .filter(Boolean).join(", ") || "unknown adapter";
    const fallback = Boolean(info.isFallbackAdapter) ||
      /llvmpipe|lavapipe|swiftshader/i.test(description);
    return (adapterFacts = { description, fallback });
  } catch {
    return (adapterFacts = null);
  }
}

async function activate(name: BackendName): Promise<boolean> {
  if (name === "wasm" && !wasmPathsSet) {
    // In Node mode, emscripten reads the .wasm file by path.
    setWasmPaths(decodeURIComponent(WASM_DIR.pathname));
    wasmPathsSet = true;
  }
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    // The CPU path's kernels (lib/kernels): zero-copy Identity, oneDNN where libdnnl2 loads.
    if (ok && name === "wasm") ensureFastKernels();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * The backend's description for logs and the results database. On WebGPU this first tunes the
 * project's WGSL kernels to the adapter (lib/kernels/webgpu/tune.ts) and names the launch shapes.
 */
async function describe(name: BackendName, facts: AdapterFacts | null): Promise<string> {
  if (name === "webgpu") {
    const adapter = facts?.description ?? "webgpu";
    const kernels = webgpuKernelsEnabled()
      ? `fused WGSL kernels (${await tuneLaunchShapes(adapter)})`
      : "tfjs kernels";
    return `${adapter}; ${kernels}`;
  }
  if (name === "wasm") {
    const native = nativeKernelsStatus();
    const kernels = native?.backends.includes("wasm") ? `; kernels: ${native.description}` : "";
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    return `cpu via tfjs wasm (XNNPACK, simd ${simd})${kernels}`;
  }
  return "cpu via tfjs cpu (plain JS)";
}

/** A workload to time: built on the active backend, run a few times, then disposed. */
export interface Probe {
  run(): Promise<void>;
  dispose(): void;
}

/** Median wall time of a few runs of a fresh probe, after one warm-up run. */
async function timeProbe(makeProbe: () => Probe, reps: number): Promise<number> {
  const probe = makeProbe();
  try {
    return await medianRunMs(() => probe.run(), reps);
  } finally {
    probe.dispose();
  }
}

/**
 * Selects and initialises a backend. With "auto": WebGPU on a hardware adapter; otherwise each
 * candidate builds and runs `probe` (the real workload, e.g. one training step) and the fastest that
 * works wins.
 */
export async function initBackend(
  choice: BackendChoice,
  probe?: () => Probe,
  reps = 3,
): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new UserError(`unknown backend '${choice}'; use one of ${BACKEND_CHOICES.join(", ")}`);
  }
  const facts = await webgpuAdapter();
  if (choice !== "auto") {
    if (choice === "webgpu" && !facts) {
      throw new UserError(
        "no WebGPU adapter found; install Debian's mesa-vulkan-drivers for a software adapter, " +
          "or pick --backend wasm|cpu",
      );
    }
    if (!(await activate(choice))) throw new UserError(`backend '${choice}' failed to initialise`);
    return {
      backend: choice,
      adapter: await describe(choice, facts),
      reason: "chosen with --backend",
    };
  }
  if (facts && !facts.fallback && (await activate("webgpu"))) {
    return {
      backend: "webgpu",
      adapter: await describe("webgpu", facts),
      reason: "hardware WebGPU adapter",
    };
  }
  const candidates: BackendName[] = facts ? ["wasm", "webgpu", "cpu"] : ["wasm", "cpu"];
  const timings: string[] = [];
  let best: { name: BackendName; ms: number } | null = null;
  for (const name of candidates) {
    if (!(await activate(name))) {
      timings.push(`${name}: unavailable`);
      continue;
    }
    if (!probe) {
      best = { name, ms: 0 };
      break;
    }
    try {
      const ms = await timeProbe(probe, reps);
      timings.push(`${name}: ${ms.toFixed(1)} ms`);
      if (!best || ms < best.ms) best = { name, ms };
    } catch (err) {
      timings.push(`${name}: fails (${(err as Error).message.split("\n")[0]})`);
    }
  }
  if (!best) throw new UserError(`no backend can run this workload (${timings.join("; ")})`);
  if (!(await activate(best.name))) {
    throw new UserError(`backend '${best.name}' failed to re-initialise`);
  }
  const reason = probe
    ? `fastest measured on this workload: ${timings.join(", ")}`
    : "first available";
  return { backend: best.name, adapter: await describe(best.name, facts), reason };
}
