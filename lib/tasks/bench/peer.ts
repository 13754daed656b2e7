/**
 * The PyTorch peer (bench/peer_torch.py): run in the same invocation as our workloads,
 * so the ratio compares two programs on the same machine under the same load.
 */
import { fileURLToPath } from "node:url";
import { UserError } from "../../errors.ts";

/** The peer's script, in the repository: bench/peer_torch.py. */
export const DEFAULT_PEER_PATH = fileURLToPath(
  new URL("../../../bench/peer_torch.py", import.meta.url),
);
/** Debian's python3-torch installs for the system interpreter. */
export const DEFAULT_PYTHON = "/usr/bin/python3";

export interface PeerOptions {
  path: string;
  python: string;
  preset: string;
  reps: number;
  /** Torch intra-op threads (the peer's default is 2); undefined keeps the peer's default. */
  threads?: number;
  mcmcSteps: number;
  /** Overrides the preset's batch. */
  batch?: number;
  /** Where the peer computes: the CPU (default) or a CUDA GPU. */
  device?: "cpu" | "cuda";
}

/** One JSON line of the peer, as printed (at least these fields). */
export interface PeerLine {
  peer: string;
  preset: string;
  batch: number;
  workload: string;
  seconds: number;
  threads?: number;
  image_steps_per_s?: number;
  iters_per_s?: number;
  [key: string]: unknown;
}

/** Parses the peer's standard output: one JSON object per workload line; other lines are ignored. */
export function parsePeerOutput(text: string): PeerLine[] {
  const lines: PeerLine[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("{")) continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof obj.workload !== "string" || typeof obj.seconds !== "number") continue;
    lines.push(obj as PeerLine);
  }
  return lines;
}

/** Fails early (before minutes of our own workloads) when the peer's script is not there. */
export async function checkPeerPath(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch {
    throw new UserError(`the peer script ${path} does not exist: pass its path with --peer PATH`);
  }
}

export async function runPeer(opts: PeerOptions): Promise<PeerLine[]> {
  await checkPeerPath(opts.path);
  const args = [
    opts.path,
    "--preset",
    opts.preset,
    "--reps",
    String(opts.reps),
    "--mcmc-steps",
    String(opts.mcmcSteps),
  ];
  if (opts.threads !== undefined) args.push("--threads", String(opts.threads));
  if (opts.batch !== undefined) args.push("--batch", String(opts.batch));
  if (opts.device !== undefined) args.push("--device", opts.device);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(opts.python, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    throw new UserError(
      `cannot run ${opts.python} (${(err as Error).message}): install Debian's python3-torch ` +
        `(apt-get install -y python3-torch) or pass --python PATH`,
    );
  }
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) {
    const last = stderr.split("\n").slice(-1)[0] ?? "";
    throw new UserError(
      `the peer failed (exit ${out.code}): ${last}` +
        (/No module named 'torch'/.test(stderr) ? "; install python3-torch" : ""),
    );
  }
  const lines = parsePeerOutput(new TextDecoder().decode(out.stdout));
  if (lines.length === 0) throw new UserError(`the peer printed no result lines (${stderr})`);
  return lines;
}
