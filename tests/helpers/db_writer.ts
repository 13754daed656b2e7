/**
 * One writer process for the concurrency test of tests/db_test.ts: opens the results database
 * (SQLite path or postgres:// URL), creates a run and writes many small transactions of metrics,
 * then evaluations and artifacts, and prints {"runId": N} on stdout.
 *
 *   deno run -A tests/helpers/db_writer.ts <path-or-url> <writer-index> <transactions> <rows-per-tx>
 *     [<start-at-epoch-ms>]
 *
 * Opening (and so migrating) happens at once; the writes wait for the start time, so writers that
 * started up at different speeds still write at the same time.
 */
import { openResultsDb } from "../../lib/db/mod.ts";

const [target, writerArg, txArg, rowsArg, startArg] = Deno.args;
const writer = Number(writerArg);
const transactions = Number(txArg);
const rowsPerTx = Number(rowsArg);

const db = await openResultsDb(
  /^[a-z]+:\/\//i.test(target) ? { url: target } : { path: target },
);
try {
  const startAt = Number(startArg ?? 0);
  if (startAt > Date.now()) await new Promise((ok) => setTimeout(ok, startAt - Date.now()));
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
      name: "loss",
      // A value that identifies (writer, step, level), so the test can check contents, not counts.
      value: writer * 1e6 + tx * 1e3 + i,
    }));
    await db.logMetrics(rows);
    // Like a training loop that computes between writes: gives the other writers their turns.
    await new Promise((ok) => setTimeout(ok, 2));
    if (tx % 5 === 0) await db.addEvaluation({ runId, name: "fid", value: tx, n: tx });
  }
  await db.addArtifact({ runId, kind: "checkpoint", path: `w${writer}.ckpt`, step: transactions });
  await db.setRunStatus(runId, "completed");
  console.log(JSON.stringify({ runId }));
} finally {
  await db.close();
}
