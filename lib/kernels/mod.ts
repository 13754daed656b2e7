/**
 * Faster kernels for the energy nets, plugged into tfjs: conv2dSame (gradients as forward
 * convolutions, or oneDNN), leakyRelu and avgPoolCeil (one native kernel each way), a zero-copy
 * Identity for the wasm backend. `installFastKernels` turns on everything this machine supports.
 */
import "@tensorflow/tfjs-backend-wasm";
import {
  disableNativeKernels,
  enableNativeKernels,
  type NativeOptions,
  type NativeStatus,
} from "./native.ts";
import { installZeroCopyWasmIdentity } from "./wasm_identity.ts";

export { avgPoolCeil } from "./avg_pool.ts";
export {
  conv2dSame,
  conv2dSameFilterGrad,
  conv2dSameImplName,
  conv2dSameInputGrad,
} from "./conv2d.ts";
export { leakyRelu } from "./leaky_relu.ts";
export { disableNativeKernels, enableNativeKernels, nativeKernelsStatus } from "./native.ts";
export type { NativeOptions, NativeStatus } from "./native.ts";

export interface FastKernelOptions extends NativeOptions {
  /** Use oneDNN where it loads (default true). */
  native?: boolean;
}

let chosen: NativeStatus | null = null;

/** Installs the fast kernels; returns what the native part did. Safe to call more than once. */
export function installFastKernels(opts: FastKernelOptions = {}): NativeStatus {
  chosen = installFastKernelsNow(opts);
  return chosen;
}

/**
 * The defaults of installFastKernels, unless a caller already chose (e.g. a benchmark with the
 * native kernels off): what lib/backend.ts calls when it brings up the wasm backend.
 */
export function ensureFastKernels(): NativeStatus {
  return chosen ?? installFastKernels();
}

function installFastKernelsNow(opts: FastKernelOptions): NativeStatus {
  installZeroCopyWasmIdentity();
  if (opts.native ?? true) return enableNativeKernels(opts);
  disableNativeKernels();
  return { backends: [], description: "off (tfjs kernels)" };
}
