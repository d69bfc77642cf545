import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { CarelaneError } from '../src/contracts/errors.ts';
import { startPollLoop } from '../src/connectors/x12/poll-loop.ts';

// The pickup loop shared by the watched folder and SFTP transports: one pass at a time, stop waits for it.
describe('startPollLoop', () => {
  it('never overlaps a slow pass, hands outcomes and classified errors over, and stop() waits for the pass in flight', async () => {
    let inFlight = 0;
    let most = 0;
    let passes = 0;
    const outcomes: number[] = [];
    const errors: CarelaneError[] = [];
    const loop = startPollLoop(
      async () => {
        passes++;
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(60); // six ticks long
        inFlight--;
        if (passes === 2) throw new Error('connection reset');
        return passes;
      },
      10,
      { onPoll: (n) => outcomes.push(n), onError: (error) => errors.push(error) },
    );
    await sleep(200);
    await loop.stop();
    expect(inFlight).toBe(0); // stop() returned only after the pass in flight ended
    const after = passes;
    await sleep(50);
    expect(passes).toBe(after); // and no pass started after it
    expect(most).toBe(1);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(passes).toBeLessThanOrEqual(4);
    expect(outcomes[0]).toBe(1);
    expect(outcomes).not.toContain(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'unexpected_error', message: 'connection reset' }); // classify()d for onError
  });
});
