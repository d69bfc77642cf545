import { classify, type CarelaneError } from '../../contracts/errors.ts';

export interface PollLoop {
  /** no further polls; resolves when the poll in progress (if any) is done */
  stop(): Promise<void>;
}

/**
 * Runs `poll` now and then every `intervalMs`, never two at once (a slow pass skips ticks rather than overlapping
 * itself, so one file is never taken by two passes of the same process). Shared by the folder and SFTP pickups.
 */
export function startPollLoop<T>(poll: () => Promise<T>, intervalMs: number, handlers: { onPoll?: (outcome: T) => void; onError?: (error: CarelaneError) => void } = {}): PollLoop {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = poll()
      .then((outcome) => handlers.onPoll?.(outcome))
      .catch((error: unknown) => handlers.onError?.(classify(error)))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalMs);
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
