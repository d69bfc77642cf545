import { describe, expect, it } from 'vitest';
import { correlationIdFrom } from './correlation.ts';

describe('correlation ids', () => {
  it('honours X-Correlation-ID, else the traceparent trace id, else makes one', () => {
    expect(correlationIdFrom({ correlationId: 'po-4711.step-2' })).toBe('po-4711.step-2');
    expect(correlationIdFrom({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(correlationIdFrom({})).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces values that could inject into logs or are invalid', () => {
    expect(correlationIdFrom({ correlationId: 'a\nb' })).not.toBe('a\nb');
    expect(correlationIdFrom({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' })).toMatch(/^[0-9a-f-]{36}$/);
  });
});
