/**
 * A training run's writes to its results database, surviving the database: if a write fails (a
 * PostgreSQL server that went away, a full disk), training goes on, that write and every later one
 * go to a journal file in the run folder (lib/db/journal.ts), and the user is told once how to
 * replay it. Nothing a run computed is lost with its database.
 */
import { type Journal, type JournalEntry, writeJournal } from "./journal.ts";
import type { ArtifactRow, EvaluationRow, MetricRow, ResultsDb, RunStatus } from "./types.ts";

/** How long a training run waits for one database write before it journals instead. */
export const DB_WRITE_TIMEOUT_MS = 15_000;

/** `p`, or a rejection with `what` once `ms` have passed (the timer never outlives the race). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class RunRecorder {
  #journal: Journal | null = null;
  #status: RunStatus = "running";

  constructor(
    private readonly db: ResultsDb,
    private readonly runId: number,
    private readonly runUid: string,
    /** Where the journal goes if the database is lost. */
    readonly journalPath: string,
    private readonly warn: (line: string) => void,
  ) {}

  /** Whether the database was lost (the journal holds the writes since). */
  get lost(): boolean {
    return this.#journal !== null;
  }

  /** The run's status as last recorded (in the database or the journal). */
  get status(): RunStatus {
    return this.#status;
  }

  /** The command that loads the journal once the database is back. */
  replayHint(): string {
    return `deno task db replay ${this.journalPath} --db <the run's database>`;
  }

  logMetrics(rows: MetricRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.#write(
      () => this.db.logMetrics(rows),
      { op: "logMetrics", rows: rows.map(({ runId: _, ...r }) => r) },
    );
  }

  addEvaluation(row: Omit<EvaluationRow, "runId">): Promise<void> {
    return this.#write(
      () => this.db.addEvaluation({ ...row, runId: this.runId }),
      { op: "addEvaluation", row },
    );
  }

  addArtifact(row: Omit<ArtifactRow, "runId">): Promise<void> {
    return this.#write(
      () => this.db.addArtifact({ ...row, runId: this.runId }),
      { op: "addArtifact", row },
    );
  }

  async setRunStatus(status: RunStatus, message?: string): Promise<void> {
    await this.#write(
      () => this.db.setRunStatus(this.runId, status, message),
      { op: "setRunStatus", status, message },
    );
    this.#status = status;
  }

  deleteMetricsAfter(step: number): Promise<void> {
    return this.#write(
      () => this.db.deleteMetricsAfter(this.runId, step),
      { op: "deleteMetricsAfter", step },
    );
  }

  async #write(toDb: () => Promise<void>, entry: JournalEntry): Promise<void> {
    let journal = this.#journal;
    if (!journal) {
      try {
        // A server that vanished mid-write may never answer: past the timeout it counts as lost
        // (a write that lands late is found again by replay, which never doubles a row).
        await withTimeout(toDb(), DB_WRITE_TIMEOUT_MS, "the database did not answer");
        return;
      } catch (err) {
        const reason = (err as Error).message.split("\n")[0];
        journal = this.#journal = {
          runUid: this.runUid,
          database: this.db.location,
          since: new Date().toISOString(),
          reason,
          entries: [],
        };
        this.warn(
          `warning: lost the results database ${this.db.location} (${reason}); training goes ` +
            `on and this run's rows from now on go to ${this.journalPath}; once the database is ` +
            `back, load them with: ${this.replayHint()}`,
        );
      }
    }
    journal.entries.push(entry);
    await writeJournal(this.journalPath, journal);
  }
}
