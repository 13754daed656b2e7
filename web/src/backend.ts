/// <reference lib="dom" />
/**
 * The page's tfjs backend: WebGPU where the browser has an adapter, else WebGL, else WebAssembly
 * (whose .wasm files the build copies beside the page). Unlike lib/backend.ts (Deno: timing
 * probes, native kernels through FFI) this only asks the browser what it has, and says why each
 * better backend was passed over, so the page can tell the user what runs their samples.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

export type WebBackendName = "webgpu" | "webgl" | "wasm";
export const WEB_BACKENDS: readonly WebBackendName[] = ["webgpu", "webgl", "wasm"];

export interface WebBackend {
  name: WebBackendName;
  /** What runs it: the adapter, the WebGL renderer, or the wasm build. */
  detail: string;
  /** Why each backend before it was not used (empty when the first choice worked). */
  skipped: string[];
}

/** The browser's WebGPU adapter, or why there is none. */
async function webgpuAdapter(): Promise<{ detail: string } | { missing: string }> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { missing: "this browser has no WebGPU (navigator.gpu is absent)" };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return { missing: "WebGPU is present but offers no adapter (GPU blocklisted?)" };
    const info = adapter.info;
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") ||
      "unnamed adapter";
    // A software adapter (SwiftShader, lavapipe) is WebGPU on the CPU: correct, but slow.
    const soft = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ||
      /swiftshader|llvmpipe|lavapipe/i.test(name);
    return { detail: soft ? `${name} (a software adapter on the CPU)` : name };
  } catch (err) {
    return { missing: `WebGPU adapter request failed: ${(err as Error).message}` };
  }
}

function webglRenderer(): string {
  const gl = document.createElement("canvas").getContext("webgl2");
  if (!gl) return "WebGL 2";
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  return ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : "WebGL 2";
}

async function activate(name: WebBackendName): Promise<boolean> {
  try {
    // setBackend resolves false (and tfjs logs a warning) when the backend cannot start.
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Starts the first backend of `order` that works; `wasmDir` is where the .wasm files are served.
 * Throws an Error naming every reason when none does.
 */
export async function startBackend(
  order: readonly WebBackendName[],
  wasmDir: string,
): Promise<WebBackend> {
  const skipped: string[] = [];
  for (const name of order) {
    if (name === "webgpu") {
      const a = await webgpuAdapter();
      if ("missing" in a) {
        skipped.push(`webgpu: ${a.missing}`);
        continue;
      }
      if (await activate("webgpu")) return { name, detail: a.detail, skipped };
      skipped.push("webgpu: tfjs could not start it on this adapter");
    } else if (name === "webgl") {
      if (await activate("webgl")) return { name, detail: webglRenderer(), skipped };
      skipped.push("webgl: no WebGL 2 context");
    } else {
      setWasmPaths(wasmDir);
      if (await activate("wasm")) {
        const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
        return { name, detail: `WebAssembly on the CPU (SIMD ${simd ? "on" : "off"})`, skipped };
      }
      skipped.push(`wasm: WebAssembly did not start (are ${wasmDir}*.wasm served?)`);
    }
  }
  throw new Error(`no backend can run here: ${skipped.join("; ")}`);
}
