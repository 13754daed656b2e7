/**
 * Workgroup sizes of the project's WGSL programs, per program kind. Each starts from a default
 * that fits the adapter's limits; `tune.ts` replaces them with the fastest size measured on the
 * adapter in use (kernels are compiled per size, so a change takes effect on the next dispatch).
 */
export type ProgramKind = "conv" | "convInputGrad" | "convFilterGrad" | "head";
export const PROGRAM_KINDS: readonly ProgramKind[] = [
  "conv",
  "convInputGrad",
  "convFilterGrad",
  "head",
];

/** Sizes tried by the tuner; all powers of two (the reductions need one). */
export const WORKGROUP_CANDIDATES: readonly number[] = [32, 64, 128, 256];

const DEFAULT_SIZE = 64;
const chosen = new Map<ProgramKind, number>();

export function workgroupSize(kind: ProgramKind): number {
  return chosen.get(kind) ?? DEFAULT_SIZE;
}

export function setWorkgroupSize(kind: ProgramKind, size: number): void {
  if (!WORKGROUP_CANDIDATES.includes(size)) {
    throw new Error(`workgroup size ${size} is not one of ${WORKGROUP_CANDIDATES.join(", ")}`);
  }
  chosen.set(kind, size);
}

/** Current sizes, e.g. for a benchmark line: "conv 64, convInputGrad 128, ...". */
export function describeWorkgroupSizes(): string {
  return PROGRAM_KINDS.map((k) => `${k} ${workgroupSize(k)}`).join(", ");
}

export function resetWorkgroupSizes(): void {
  chosen.clear();
}
