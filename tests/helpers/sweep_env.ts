/**
 * For tests/sweep_test.ts: a fresh PostgreSQL schema per test (with its queue schema beside it),
 * and the project's scripts as processes whose output the test can watch line by line.
 */
import postgres from "postgres";
import { ROOT } from "./script.ts";

export interface PgPlace {
  /** The test URL with search_path set to the fresh schema. */
  url: string;
  schema: string;
  cleanup(): Promise<void>;
}

/** A schema of its own (the queue goes into <schema>_queue, lib/sweep/queue.ts); dropped after. */
export async function freshSchema(baseUrl: string): Promise<PgPlace> {
  const schema = `sw_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create schema ${schema}`);
  const url = new URL(baseUrl);
  url.searchParams.set("search_path", schema);
  return {
    url: url.toString(),
    schema,
    async cleanup() {
      await admin.unsafe(`drop schema if exists ${schema}_queue cascade`);
      await admin.unsafe(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

export interface Proc {
  child: Deno.ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved by arrival). */
  output(): string;
  done: Promise<{ code: number; signal: string | null; output: string }>;
}

/**
 * `deno run -A --unstable-webgpu scripts/<script> ...args`; `onLine` sees each line as it comes
 * (on stdout or stderr).
 */
export function spawnScript(
  script: string,
  args: string[],
  onLine: (line: string, child: Deno.ChildProcess) => void = () => {},
): Proc {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-webgpu", `${ROOT}scripts/${script}`, ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let all = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      all += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const line of lines) onLine(line, child);
    }
    if (partial) onLine(partial, child);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    child,
    output: () => all,
    done: (async () => {
      const status = await child.status;
      await pumps;
      return { code: status.code, signal: status.signal, output: all };
    })(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}`);
    await sleep(250);
  }
}
