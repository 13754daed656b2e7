/** Runs one of the project's scripts as a user would (a fresh Deno process at the repo root). */

export const ROOT = new URL("../..", import.meta.url).pathname;

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno run -A --unstable-webgpu scripts/<script> ...args`, as the deno.json tasks run them. */
export async function runScript(script: string, args: string[]): Promise<ScriptResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-webgpu", `${ROOT}scripts/${script}`, ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
