/**
 * Tests that need something outside Deno (PostgreSQL, numpy, oneDNN, Chromium, the real
 * Fashion-MNIST): where it is missing they are skipped on a developer's machine, with the reason
 * in their name, but under CI=true (set by .ci/run) they run and fail at once, naming what CI did
 * not install, so a green CI never means "tested less than it says".
 */

export interface Need {
  /** What the test needs, e.g. "numpy". */
  what: string;
  present: boolean;
  /** How to get it, e.g. "apt-get install -y python3-numpy". */
  install: string;
}

export const IN_CI = Deno.env.get("CI") === "true";

/** Deno.test for a test that needs `need` (see the module doc). */
export function testNeeding(need: Need | Need[], def: Deno.TestDefinition): void {
  const missing = (Array.isArray(need) ? need : [need]).filter((n) => !n.present);
  if (missing.length === 0) {
    Deno.test(def);
    return;
  }
  const why = missing.map((n) => `${n.what} is missing (${n.install})`).join("; ");
  if (!IN_CI) {
    Deno.test({ ...def, name: `${def.name} [skipped: ${why}]`, ignore: true });
    return;
  }
  Deno.test({
    ...def,
    fn: () => {
      throw new Error(`${why}: CI must install it (.ci/run)`);
    },
  });
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The real Fashion-MNIST of Debian's dataset-fashion-mnist, where the readers look for it. */
export const REAL_FASHION_MNIST: Need = {
  what: "the real Fashion-MNIST",
  present: isDir("/usr/share/datasets/fashion-mnist"),
  install: "apt-get install -y dataset-fashion-mnist",
};
