/**
 * One writer process for the concurrency test of tests/db_test.ts: opens the results database
 * (SQLite path or postgres:// URL), creates a run and writes many small transactions of metrics,
 * then evaluations and artifacts, and prints {"runId": N} on stdout.
 *
 *   deno run -A tests/helpers/db_writer.ts <path-or-url> <writer-index> <transactions> <rows-per-tx>
 *     [<barrier-folder>]
 *
 * Opening (and so migrating) happens at once; with a barrier folder, the writer then creates
 * ready-<index> there and waits for a file named go, so writers that started up at different
 * speeds still write at the same time.
 */
import { dbOptionsFor, openResultsDb } from "../../lib/db/mod.ts";
import { exists } from "../../lib/io/exists.ts";

const [target, writerArg, txArg, rowsArg, barrier] = Deno.args;
const writer = Number(writerArg);
const transactions = Number(txArg);
const rowsPerTx = Number(rowsArg);

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

const db = await openResultsDb(dbOptionsFor(target));
try {
  if (barrier) {
    await Deno.writeTextFile(`${barrier}/ready-${writer}`, "");
    while (!(await exists(`${barrier}/go`))) await sleep(5);
  }
  const runId = await db.createRun({
    task: "concurrency-test",
    preset: `writer-${writer}`,
    config: { writer },
    gitCommit: null,
    backend: "cpu",
    adapter: "none",
    seed: writer,
    dir: null,
  });
  for (let tx = 0; tx < transactions; tx++) {
    const rows = Array.from({ length: rowsPerTx }, (_, i) => ({
      runId,
      step: tx,
      level: i,
      name: "loss" as const,
      // A value that identifies (writer, step, level), so the test can check contents, not counts.
      value: writer * 1e6 + tx * 1e3 + i,
    }));
    await db.logMetrics(rows);
    // Like a training loop that computes between writes: gives the other writers their turns.
    await sleep(2);
    if (tx % 5 === 0) await db.addEvaluation({ runId, name: "fid", value: tx, n: tx });
  }
  await db.addArtifact({ runId, kind: "checkpoint", path: `w${writer}.ckpt`, step: transactions });
  await db.setRunStatus(runId, "completed");
  console.log(JSON.stringify({ runId }));
} finally {
  await db.close();
}
