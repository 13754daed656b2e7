/**
 * Failpoints for the fault-injection tests (tests/faults_test.ts): `DRL_FAILPOINT=NAME:N` makes
 * the process kill itself (SIGKILL: no clean-up, as a power cut or the OOM killer) the N-th time it
 * reaches `failpoint(NAME)`. Without the variable a failpoint is one comparison. The points sit
 * where a kill is the hardest to survive: half-way through an atomic file write, between a
 * checkpoint's rows and the checkpoint, and inside a database transaction.
 */

export const FAILPOINTS = ["atomic-write", "after-rows", "db-transaction"] as const;
export type FailpointName = typeof FAILPOINTS[number];

function armed(): { name: string; at: number } | null {
  let spec: string | undefined;
  try {
    spec = Deno.env.get("DRL_FAILPOINT");
  } catch {
    return null; // no --allow-env: never armed
  }
  const m = spec ? /^([a-z-]+):(\d+)$/.exec(spec) : null;
  return m ? { name: m[1], at: Number(m[2]) } : null;
}

const ARMED = armed();
let reached = 0;

/** Kills this process here when DRL_FAILPOINT names this point and its count is reached. */
export function failpoint(name: FailpointName): void {
  if (ARMED === null || ARMED.name !== name) return;
  if (++reached === ARMED.at) Deno.kill(Deno.pid, "SIGKILL");
}
