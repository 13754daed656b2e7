/** Training progress: a cli-progress bar on a terminal, plain lines otherwise (logs, CI, pipes). */
import cliProgress from "cli-progress";

export interface Progress {
  /** Advances to `step`; `summary` is shown beside the bar. */
  update(step: number, summary: string): void;
  /** A line that must stay in the output (log points, warnings). */
  log(line: string): void;
  stop(): void;
}

/** Without a terminal, a progress line at most this often (and at least this often while busy). */
export const PLAIN_PROGRESS_SECONDS = 30;

/** "1h 02m", "3m 05s", "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * Plain lines for logs, CI and pipes: "progress 1200/6500 (18%), 2m 30s left | summary" every
 * PLAIN_PROGRESS_SECONDS, so a long run never goes quiet between its log points.
 */
function plainProgress(
  total: number,
  start: number,
  write: (line: string) => void,
  now: () => number,
): Progress {
  const t0 = now();
  let last = t0;
  return {
    update: (step, summary) => {
      const t = now();
      if (t - last < PLAIN_PROGRESS_SECONDS * 1000 || step >= total) return;
      last = t;
      const done = step - start;
      const eta = done > 0 ? ((t - t0) / 1000) * (total - step) / done : NaN;
      const pct = Math.floor((100 * step) / total);
      write(`progress ${step}/${total} (${pct}%), ${formatDuration(eta)} left | ${summary}`);
    },
    log: write,
    stop: () => {},
  };
}

export function createProgress(
  total: number,
  start: number,
  opts: { write?: (line: string) => void; now?: () => number; terminal?: boolean } = {},
): Progress {
  if (!(opts.terminal ?? Deno.stdout.isTerminal())) {
    return plainProgress(
      total,
      start,
      opts.write ?? ((line) => console.log(line)),
      opts.now ?? (() => performance.now()),
    );
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
