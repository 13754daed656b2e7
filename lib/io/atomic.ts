/**
 * Atomic file writes: a temporary file in the same folder (rename is atomic only within one file
 * system, hence not /tmp), flushed to disk, then renamed over the target, so a kill mid-write never
 * leaves a half-written file under the real name.
 */
import { basename, dirname } from "node:path";
import { isDiskFull, UserError } from "../errors.ts";
import { failpoint } from "../failpoints.ts";

/** The clear error for a full disk while writing `path`: the previous complete file is kept. */
export function diskFullError(path: string): UserError {
  return new UserError(
    `cannot write ${path}: the disk is full; free some space, then run again (a training run: ` +
      `--resume it; its last complete checkpoint is kept)`,
  );
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  let tmp: string | undefined;
  try {
    await Deno.mkdir(dir, { recursive: true });
    tmp = await Deno.makeTempFile({ dir, prefix: `.${basename(path)}.`, suffix: ".tmp" });
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const f = await Deno.open(tmp, { write: true, truncate: true });
    try {
      let written = 0;
      const half = bytes.length >> 1;
      while (written < half) written += await f.write(bytes.subarray(written, half));
      failpoint("atomic-write");
      while (written < bytes.length) written += await f.write(bytes.subarray(written));
      // Flush before the rename so a crash cannot leave an empty file behind the new name.
      await f.sync();
    } finally {
      f.close();
    }
    // makeTempFile creates the file private (0600); results should be readable like any file.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o644);
    await Deno.rename(tmp, path);
    tmp = undefined;
  } catch (err) {
    if (tmp !== undefined) await Deno.remove(tmp).catch(() => {});
    if (isDiskFull(err)) throw diskFullError(path);
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
      throw new UserError(`cannot write ${path}: permission denied; choose a writable folder`);
    }
    if (err instanceof Deno.errors.NotADirectory || err instanceof Deno.errors.AlreadyExists) {
      throw new UserError(`cannot write ${path}: a file is in the way of its folder ${dir}`);
    }
    throw err;
  }
}

/**
 * Copies `from` to `to` through a temporary file and a rename, so `to` is either the old file or a
 * whole copy, never a part.
 */
export async function copyFileAtomic(from: string, to: string): Promise<void> {
  const dir = dirname(to);
  const tmp = await Deno.makeTempFile({ dir, prefix: `.${basename(to)}.`, suffix: ".tmp" });
  try {
    await Deno.copyFile(from, tmp);
    await Deno.rename(tmp, to);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw isDiskFull(err) ? diskFullError(to) : err;
  }
}

/** The temporary files of atomic writes: `.<name>.<random>.tmp`. */
export const TEMPORARY_FILE = /^\..+\.tmp$/;

/**
 * Removes what writes killed mid-way left in `dir` (their temporary files); call it where only
 * this process writes (a run's own folder). Returns the names removed.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && TEMPORARY_FILE.test(e.name)) {
        await Deno.remove(`${dir}/${e.name}`);
        removed.push(e.name);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}
