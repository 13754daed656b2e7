/**
 * Command-line parsing for the training script: a preset name, the script's own flags, and config
 * overrides (--key=value or --key value), which buildConfig checks against the preset.
 */
import { UserError } from "./errors.ts";

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
