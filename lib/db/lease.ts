/**
 * One owner per training run: a lease row in the results database (SQLite or PostgreSQL) that a
 * process takes before it trains a run, renews while it trains, and gives back at the end. A
 * second process that tries to train the same run is refused with who holds it. A lease whose
 * holder died is taken over: at once when the holder was on this host and its process is gone, or
 * once its heartbeat is older than `staleAfterMs` (a holder on another machine, or a frozen one).
 * Taking and renewing are compare-and-swaps on the lease's token, so two processes never both win.
 */
import { UserError } from "../errors.ts";
import type { ResultsDb, RunLease } from "./types.ts";
import { DB_WRITE_TIMEOUT_MS, withTimeout } from "./run_recorder.ts";

/** The run is held by a live process (the message names it). */
export class LeaseHeldError extends UserError {
  override name = "LeaseHeldError";
}

/** A holder renews at least this often while it trains. */
export const LEASE_HEARTBEAT_MS = 30_000;
/** A lease whose last heartbeat is older than this is taken over. */
export const LEASE_STALE_MS = 5 * 60_000;

export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Whether process `pid` is alive on this host (Linux: /proc); true when it cannot tell. */
function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    return true;
  }
}

/** Why `lease` may be taken over now, or null while its holder is alive. */
export function staleReason(
  lease: RunLease,
  now: number,
  staleAfterMs = LEASE_STALE_MS,
): string | null {
  if (lease.host === hostName() && lease.pid !== Deno.pid && !processAlive(lease.pid)) {
    return `its process ${lease.pid} on this host is gone`;
  }
  const age = now - Date.parse(lease.heartbeatAt);
  if (!(age <= staleAfterMs)) {
    return `its last heartbeat is ${Math.round(age / 1000)} s old`;
  }
  return null;
}

/** How a new holder judges the lease of a previous one. */
export interface LeaseOptions {
  /** A lease whose heartbeat is older than this is taken over (default LEASE_STALE_MS). */
  staleAfterMs?: number;
  /**
   * While a live holder has it, wait up to this long for it to be released or to go stale
   * (default 0: refuse at once). A sweep's worker taking over a job whose worker vanished on
   * another machine waits, as that lease can only go stale.
   */
  waitMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RunLeaseHolder {
  #lastBeat = 0;

  private constructor(
    private readonly db: ResultsDb,
    readonly runId: number,
    readonly token: string,
    /** Set when the lease was taken over from a dead holder: what happened, for the log. */
    readonly tookOver: string | null,
  ) {
    this.#lastBeat = Date.now();
  }

  /**
   * Takes the run's lease, or throws a UserError naming the live holder (pid, host, since when),
   * after waiting `opts.waitMs` for it to go.
   */
  static async acquire(
    db: ResultsDb,
    runId: number,
    opts: LeaseOptions = {},
  ): Promise<RunLeaseHolder> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        return await RunLeaseHolder.#tryAcquire(db, runId, opts);
      } catch (err) {
        if (!(err instanceof LeaseHeldError) || Date.now() >= deadline) throw err;
        await sleep(Math.min(2_000, Math.max(0, deadline - Date.now())));
      }
    }
  }

  static async #tryAcquire(
    db: ResultsDb,
    runId: number,
    opts: LeaseOptions,
  ): Promise<RunLeaseHolder> {
    const now = opts.now ?? Date.now;
    const fresh = (): RunLease => {
      const at = new Date(now()).toISOString();
      return {
        runId,
        token: crypto.randomUUID(),
        pid: Deno.pid,
        host: hostName(),
        acquiredAt: at,
        heartbeatAt: at,
      };
    };
    // Two rounds: an insert that lost a race reads the winner's lease, then judges it.
    for (let round = 0; round < 2; round++) {
      const mine = fresh();
      if (await db.insertLease(mine)) return new RunLeaseHolder(db, runId, mine.token, null);
      const held = await db.getLease(runId);
      if (!held) continue; // released in between: insert again
      const why = staleReason(held, now(), opts.staleAfterMs);
      if (!why) {
        throw new LeaseHeldError(
          `run ${runId} is being trained by process ${held.pid} on ${held.host} (since ` +
            `${held.acquiredAt}, last heartbeat ${held.heartbeatAt}); wait for it to finish or ` +
            `stop it (Ctrl-C or kill ${held.pid}) before resuming`,
        );
      }
      if (await db.swapLease(runId, held.token, mine)) {
        return new RunLeaseHolder(
          db,
          runId,
          mine.token,
          `took over the lease of process ${held.pid} on ${held.host}: ${why}`,
        );
      }
    }
    throw new UserError(`run ${runId}: another process took its lease at the same moment; retry`);
  }

  /** Renews the heartbeat when the last one is LEASE_HEARTBEAT_MS old (cheap to call every step). */
  async heartbeat(now = Date.now()): Promise<void> {
    if (now - this.#lastBeat < LEASE_HEARTBEAT_MS) return;
    this.#lastBeat = now;
    const held = await withTimeout(
      this.db.getLease(this.runId),
      DB_WRITE_TIMEOUT_MS,
      "the database did not answer",
    );
    if (!held || held.token !== this.token) {
      throw new UserError(
        `run ${this.runId}: its lease was taken by ${
          held ? `process ${held.pid} on ${held.host}` : "no one (it was deleted)"
        } while this process trained it; stopping so two processes never write one run`,
      );
    }
    await withTimeout(
      this.db.swapLease(this.runId, this.token, {
        ...held,
        heartbeatAt: new Date(now).toISOString(),
      }),
      DB_WRITE_TIMEOUT_MS,
      "the database did not answer",
    );
  }

  /** Gives the lease back (nothing if another process took it meanwhile). */
  async release(): Promise<void> {
    await withTimeout(
      this.db.swapLease(this.runId, this.token, null),
      DB_WRITE_TIMEOUT_MS,
      "the database did not answer",
    );
  }
}
