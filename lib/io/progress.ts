/** Training progress: a cli-progress bar on a terminal, plain lines otherwise (logs, CI, pipes). */
import cliProgress from "cli-progress";

export interface Progress {
  /** Advances to `step`; `summary` is shown beside the bar. */
  update(step: number, summary: string): void;
  /** A line that must stay in the output (log points, warnings). */
  log(line: string): void;
  stop(): void;
}

export function createProgress(total: number, start: number): Progress {
  if (!Deno.stdout.isTerminal()) {
    return {
      update: () => {},
      log: (line) => console.log(line),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar({
    format: "{bar} {value}/{total} | {eta_formatted} left | {summary}",
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, start, { summary: "" });
  return {
    update: (step, summary) => bar.update(step, { summary }),
    // Clear the bar's line, print, and let the next update redraw the bar below.
    log: (line) => {
      Deno.stdout.writeSync(new TextEncoder().encode("\r\x1b[2K" + line + "\n"));
    },
    stop: () => bar.stop(),
  };
}
