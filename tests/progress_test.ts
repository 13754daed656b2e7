/** Progress without a terminal: a line every 30 s with the ETA, so a long run never goes quiet. */
import assert from "node:assert/strict";
import { createProgress, formatDuration } from "../lib/io/progress.ts";

Deno.test("plain progress: a line at most every 30 s, with the share done and the time left", () => {
  const lines: string[] = [];
  let clock = 0;
  const p = createProgress(1000, 100, {
    terminal: false,
    write: (l) => lines.push(l),
    now: () => clock,
  });
  for (let step = 101; step <= 1000; step++) {
    clock += 500; // 0.5 s per step: 900 steps, 450 s
    p.update(step, `loss ${step}`);
  }
  p.log("a log point");
  p.stop();
  // 450 s in all: a line at 30, 60, ..., 420 s (the last step prints none), then the log line.
  assert.equal(lines.length, 14 + 1);
  assert.equal(lines[0], "progress 160/1000 (16%), 7m 00s left | loss 160");
  assert.equal(lines[13], "progress 940/1000 (94%), 30s left | loss 940");
  assert.equal(lines[14], "a log point");
});

Deno.test("formatDuration: hours, minutes and seconds", () => {
  assert.equal(formatDuration(42.4), "42s");
  assert.equal(formatDuration(185), "3m 05s");
  assert.equal(formatDuration(3720), "1h 02m");
  assert.equal(formatDuration(NaN), "?");
});
