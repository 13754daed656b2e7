/**
 * A small results database for the compare and report tests: CIFAR-10 runs of two presets over
 * seeds with FID/IS, a 2D run with its own metric, a run without evaluations, training metrics
 * per level and one sample grid PNG (a magenta checkerboard the report test looks for on screen).
 */
import type { MetricRow } from "../../lib/db/mod.ts";
import { encode } from "fast-png";
import { openResultsDb, type ResultsDb } from "../../lib/db/mod.ts";

/** The grid's colour: absent from charts, tables and page background. */
export const GRID_RGB = [255, 0, 255] as const;

export function checkerboardPng(size = 64, cell = 8): Uint8Array {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = ((Math.floor(x / cell) + Math.floor(y / cell)) & 1) === 0;
      data.set(on ? GRID_RGB : [255, 255, 255], (y * size + x) * 3);
    }
  }
  return encode({ width: size, height: size, data, channels: 3, depth: 8 });
}

export const CIFAR_RUNS = [
  { preset: "cifar10", seed: 0, fid: 10, is: 8.0 },
  { preset: "cifar10", seed: 1, fid: 12, is: 8.2 },
  { preset: "cifar10", seed: 2, fid: 14, is: 8.4 },
  { preset: "cifar10-small", seed: 0, fid: 20, is: 7.0 },
  { preset: "cifar10-small", seed: 1, fid: 22, is: 7.5 },
];

export interface Fixture {
  dir: string;
  dbPath: string;
  /** Run ids in CIFAR_RUNS order. */
  cifarIds: number[];
  gaussiansId: number;
  unevaluatedId: number;
  cleanup(): Promise<void>;
}

async function addRun(
  db: ResultsDb,
  preset: string,
  seed: number,
  config: Record<string, unknown>,
  dir: string,
): Promise<number> {
  return await db.createRun({
    task: "train",
    preset,
    config: { ...config, seed },
    gitCommit: "0123abc",
    backend: "cpu",
    adapter: "none",
    seed,
    dir,
  });
}

export async function makeResultsFixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "drl-compare-test-" });
  const dbPath = `${dir}/results.db`;
  const db = await openResultsDb({ path: dbPath });
  try {
    const cifarIds: number[] = [];
    for (const r of CIFAR_RUNS) {
      const small = r.preset === "cifar10-small";
      const runDir = `${dir}/runs/${r.preset}-${r.seed}`;
      const id = await addRun(db, r.preset, r.seed, {
        dataset: "cifar10",
        lr: 1e-4,
        net: { ch: small ? 64 : 128, blocks: 2 },
        out: runDir, // a path: never a comparison column
      }, runDir);
      await db.addEvaluation({ runId: id, name: "fid", value: r.fid + 100, n: 1000 }); // superseded
      await db.addEvaluation({ runId: id, name: "fid", value: r.fid, n: 50000 });
      await db.addEvaluation({ runId: id, name: "is", value: r.is, n: 50000 });
      await db.setRunStatus(id, "completed");
      cifarIds.push(id);
    }

    // The first CIFAR run gets training curves and a sample grid for the report.
    const first = cifarIds[0];
    const rows: MetricRow[] = [];
    for (let step = 0; step <= 200; step += 10) {
      for (let level = 0; level < 3; level++) {
        rows.push({ runId: first, step, level, name: "loss", value: Math.exp(-step / 80) + level });
        rows.push({ runId: first, step, level, name: "f_pos", value: -step / 50 - level });
      }
      rows.push({
        runId: first,
        step,
        level: null,
        name: "loss",
        value: Math.exp(-step / 80) + 0.5,
      });
    }
    await db.logMetrics(rows);
    await Deno.mkdir(`${dir}/runs/cifar10-0`, { recursive: true });
    await Deno.writeFile(`${dir}/runs/cifar10-0/grid.png`, checkerboardPng());
    await db.addArtifact({ runId: first, kind: "grid", path: "grid.png", step: 200 }); // run-relative
    await db.addArtifact({ runId: first, kind: "samples", path: `${dir}/missing.png` });

    const gaussiansId = await addRun(db, "8gaussians", 0, { dataset: "8gaussians" }, dir);
    await db.addEvaluation({ runId: gaussiansId, name: "energy_distance", value: 0.0123 });
    const unevaluatedId = await addRun(db, "checkerboard", 0, { dataset: "checkerboard" }, dir);
    await db.setRunStatus(unevaluatedId, "failed", "loss became NaN");
    return {
      dir,
      dbPath,
      cifarIds,
      gaussiansId,
      unevaluatedId,
      cleanup: () => Deno.remove(dir, { recursive: true }),
    };
  } finally {
    await db.close();
  }
}
