/**
 * Command-line parsing for the training script: a preset name, the script's own flags, and config
 * overrides (--key=value or --key value), which buildConfig checks against the preset.
 */
import type { Command } from "commander";
import { UserError } from "./errors.ts";
import { installFastKernels } from "./kernels/mod.ts";

export interface ParsedArgs {
  positional: string[];
  /** The script's own flags (names listed in `flags`; `switches` take no value). */
  flags: Record<string, string | true>;
  /** Everything else: config overrides. */
  overrides: Record<string, string>;
}

export function parseArgs(
  args: string[],
  flags: readonly string[],
  switches: readonly string[] = [],
): ParsedArgs {
  const out: ParsedArgs = { positional: [], flags: {}, overrides: {} };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const key = a.slice(2, eq < 0 ? undefined : eq);
    if (!key) throw new UserError(`'${a}' is not an option; options look like --name=value`);
    if (switches.includes(key)) {
      if (eq >= 0) throw new UserError(`--${key} takes no value`);
      out.flags[key] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) value = args[++i];
    else throw new UserError(`--${key} needs a value (--${key}=VALUE)`);
    if (flags.includes(key)) out.flags[key] = value;
    else out.overrides[key] = value;
  }
  return out;
}

/** A non-negative integer flag, or a clear error. */
export function intFlag(name: string, value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value === true || !Number.isInteger(n) || n < 0) {
    throw new UserError(`--${name} needs a non-negative integer (got '${value}')`);
  }
  return n;
}

/**
 * Parses `args` with a commander program so that its errors become one-line UserErrors (printed
 * once, by runMain). Returns false when --help or --version was printed and the script should end.
 */
export function parseCommand(program: Command, args: string[]): boolean {
  program.exitOverride().configureOutput({ writeErr: () => {} });
  try {
    program.parse(args, { from: "user" });
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version") return false;
    throw new UserError((err as Error).message.replace(/^error: /, ""));
  }
}

/** An integer option of at least `min`, or a clear error naming the option. */
export function intOption(name: string, value: string, min = 0): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UserError(`--${name} needs an integer >= ${min} (got '${value}')`);
  }
  return n;
}

/** As intOption, or undefined when the option was not given. */
export function optionalInt(name: string, value: string | undefined, min = 0): number | undefined {
  return value === undefined ? undefined : intOption(name, value, min);
}

/** The help of every script's --threads option. */
export const THREADS_HELP = "CPU threads of the native kernels (default: every core; same numbers)";

/**
 * Applies a script's --threads N (absent: the kernels' default, every core) before the backend
 * starts; the numbers a run computes do not depend on it.
 */
export function applyThreads(value: string | undefined): void {
  if (value === undefined) return;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`--threads needs a positive integer (got '${value}')`);
  }
  installFastKernels({ threads: n });
}
