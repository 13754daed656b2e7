/** Errors a user can fix: printed as one line, exit code 2, no stack trace. */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string) {
    super(message);
  }
}

/** A full disk, as Deno and SQLite say it (ENOSPC has no Deno error class). */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === "ENOSPC" ||
    /no space left on device|os error 28|SQLITE_FULL|database or disk is full/i.test(
      e?.message ?? "",
    );
}

/**
 * Runs a script's main function: a UserError becomes one clear line on stderr and exit code 2, as
 * does a full disk (the user's to fix, wherever it struck); anything else is a bug and keeps its
 * stack trace (exit code 1).
 */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`error: ${err.message}`);
      Deno.exit(2);
    }
    if (isDiskFull(err)) {
      console.error(
        `error: the disk is full (${(err as Error).message.split("\n")[0]}); free some space ` +
          "and run again (a training run: --resume it; its last complete checkpoint is kept)",
      );
      Deno.exit(2);
    }
    throw err;
  }
}
