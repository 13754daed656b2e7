/** Errors a user can fix: printed as one line, exit code 2, no stack trace. */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string) {
    super(message);
  }
}

/**
 * Runs a script's main function: a UserError becomes one clear line on stderr and exit code 2;
 * anything else is a bug and keeps its stack trace (exit code 1).
 */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`error: ${err.message}`);
      Deno.exit(2);
    }
    throw err;
  }
}
