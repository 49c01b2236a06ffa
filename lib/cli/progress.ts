// Progress bars with ETA for long CLI steps (cli-progress), silent when stderr is not a terminal.
import cliProgress from 'cli-progress';
import type { ProgressFn } from '../types.js';

export interface CliProgress {
  update: ProgressFn;
  stop(): void;
}

export function cliProgressBar(label: string, enabled = process.stderr.isTTY === true): CliProgress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} {phase} [{bar}] {value}/{total} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (phase, done, total) => {
      if (!started) {
        bar.start(total, done, { phase });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { phase });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
