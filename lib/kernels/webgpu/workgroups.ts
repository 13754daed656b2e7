/**
 * Launch shapes of the project's WGSL programs, per program kind: the workgroup size and, for the
 * convolutions, how many neighbouring pixels one invocation computes (more reuse of loaded weights
 * against fewer invocations in flight). Each starts from a default that fits any adapter; `tune.ts`
 * replaces them with the fastest measured on the adapter in use (programs are compiled per shape,
 * so a change takes effect on the next dispatch).
 */
export type ProgramKind = "conv" | "convInputGrad" | "convFilterGrad" | "head";
export const PROGRAM_KINDS: readonly ProgramKind[] = [
  "conv",
  "convInputGrad",
  "convFilterGrad",
  "head",
];

/** Workgroup sizes the tuner tries: powers of two (the reductions need one), within WebGPU's
 * guaranteed 256 invocations per workgroup. */
export const WORKGROUP_CANDIDATES: readonly number[] = [32, 64, 128, 256];
/** Pixels per invocation the tuner tries for the two pixel-tiled convolution kernels. */
export const PIXEL_CANDIDATES: readonly number[] = [2, 4, 8];

export interface LaunchShape {
  workgroupSize: number;
  /** Used by "conv" and "convInputGrad" only. */
  pixels: number;
}

const DEFAULT_SHAPE: LaunchShape = { workgroupSize: 64, pixels: 4 };
const chosen = new Map<ProgramKind, LaunchShape>();

export function launchShape(kind: ProgramKind): LaunchShape {
  return chosen.get(kind) ?? DEFAULT_SHAPE;
}

export function workgroupSize(kind: ProgramKind): number {
  return launchShape(kind).workgroupSize;
}

export function setLaunchShape(kind: ProgramKind, shape: Partial<LaunchShape>): void {
  const next = { ...launchShape(kind), ...shape };
  if (!WORKGROUP_CANDIDATES.includes(next.workgroupSize)) {
    throw new Error(
      `workgroup size ${next.workgroupSize} is not one of ${WORKGROUP_CANDIDATES.join(", ")}`,
    );
  }
  if (!Number.isInteger(next.pixels) || next.pixels < 1 || next.pixels > 16) {
    throw new Error(`pixels per invocation must be an integer in 1..16, got ${next.pixels}`);
  }
  chosen.set(kind, next);
}

/** Current shapes, e.g. for a benchmark line: "conv 64x4px, convInputGrad 128x8px, ...". */
export function describeLaunchShapes(): string {
  return PROGRAM_KINDS.map((k) => {
    const s = launchShape(k);
    const px = k === "conv" || k === "convInputGrad" ? `x${s.pixels}px` : "";
    return `${k} ${s.workgroupSize}${px}`;
  }).join(", ");
}

export function resetLaunchShapes(): void {
  chosen.clear();
}
