/** The system Python, for tests that check against numpy; they are ignored where it has no numpy. */
export const PYTHON = "/usr/bin/python3";

export function hasNumpy(): boolean {
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
