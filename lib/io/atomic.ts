/** Atomic file writes: a temporary file in the same folder, then a rename, so a kill mid-write never
 * leaves a half-written file under the real name. */
import { dirname } from "node:path";

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    // Flush to disk before the rename so a crash cannot leave an empty file behind the new name.
    const f = await Deno.open(tmp, { read: true, write: true });
    await f.sync();
    f.close();
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
