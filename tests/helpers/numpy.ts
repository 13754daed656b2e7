/** The system Python with numpy, for tests that check against numpy's float64 computations. */
import type { Need } from "./needs.ts";

export const PYTHON = "/usr/bin/python3";

function hasNumpy(): boolean {
  try {
    return new Deno.Command(PYTHON, {
      args: ["-c", "import numpy"],
      stderr: "null",
      stdout: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
}

export const NUMPY: Need = {
  what: "numpy",
  present: hasNumpy(),
  install: "apt-get install -y python3-numpy",
};
