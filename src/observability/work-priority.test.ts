import { describe, expect, it } from 'vitest';
import { withWorkPriority, workPriority, yieldToUrgentWork } from './work-priority.ts';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('work priority', () => {
  it('runs work at its lane priority; outside any delivery it is standard', async () => {
    expect(workPriority()).toBe(50);
    expect(await withWorkPriority(90, async () => workPriority())).toBe(90);
  });

  it('bulk work waits while urgent work runs and resumes when it ends', async () => {
    let release!: () => void;
    const urgent = withWorkPriority(90, () => new Promise<void>((resolve) => (release = resolve)));
    const order: string[] = [];
    const bulk = withWorkPriority(10, async () => {
      await yieldToUrgentWork(5000);
      order.push('bulk');
    });
    await tick(30);
    expect(order).toEqual([]);
    order.push('urgent done');
    release();
    await urgent;
    await bulk;
    expect(order).toEqual(['urgent done', 'bulk']);
  });

  it('bulk work waits at most the cap, so a stream of urgent work cannot starve it', async () => {
    let release!: () => void;
    const urgent = withWorkPriority(90, () => new Promise<void>((resolve) => (release = resolve)));
    const started = performance.now();
    await withWorkPriority(10, () => yieldToUrgentWork(60));
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    release();
    await urgent;
  });

  it('standard and urgent work never wait, nor does bulk work when nothing urgent runs', async () => {
    let release!: () => void;
    const urgent = withWorkPriority(90, () => new Promise<void>((resolve) => (release = resolve)));
    const started = performance.now();
    await withWorkPriority(50, () => yieldToUrgentWork(5000));
    await withWorkPriority(90, () => yieldToUrgentWork(5000));
    expect(performance.now() - started).toBeLessThan(50);
    release();
    await urgent;
    const again = performance.now();
    await withWorkPriority(10, () => yieldToUrgentWork(5000));
    expect(performance.now() - again).toBeLessThan(50);
  });
});
