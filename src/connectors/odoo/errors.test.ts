import { describe, expect, it } from 'vitest';
import { classifyAbort, classifyOdooException, faultFromXmlRpc } from './errors.ts';
import { externalIdName } from './external-ids.ts';
import { RoundTripLimiter } from './limiter.ts';

describe('Odoo error classification', () => {
  it('maps Odoo exception names to failure classes and keeps Odoo’s message', () => {
    expect(classifyOdooException({ name: 'odoo.exceptions.ValidationError', message: 'Barcode taken' }, 'product.product.create')).toMatchObject({
      failureClass: 'business',
      code: 'odoo_validation_error',
      exceptionType: 'delivery_failed',
      message: 'Odoo product.product.create: Barcode taken',
    });
    expect(classifyOdooException({ name: 'odoo.exceptions.AccessError', message: 'no' }, 'x').failureClass).toBe('permanent');
    expect(classifyOdooException({ name: 'odoo.exceptions.MissingError', message: 'gone' }, 'x').code).toBe('odoo_missing_record');
    expect(classifyOdooException({ name: 'psycopg2.errors.SerializationFailure', message: 'conflict' }, 'x').failureClass).toBe('transient');
    expect(classifyOdooException({ name: 'builtins.ValueError', message: 'Invalid field' }, 'x').failureClass).toBe('permanent');
    expect(classifyOdooException({ name: 'builtins.MemoryError', message: 'oom', httpStatus: 500 }, 'x').failureClass).toBe('transient');
  });

  it('reads XML-RPC fault codes 2/3/4 and the exception name at the end of a code-1 traceback', () => {
    expect(faultFromXmlRpc(2, 'Record does not exist or has been deleted.').name).toBe('MissingError');
    expect(faultFromXmlRpc(2, 'Please add some items to move.').name).toBe('UserError');
    expect(faultFromXmlRpc(3, 'Access Denied').name).toBe('AccessDenied');
    expect(faultFromXmlRpc(4, 'not allowed').name).toBe('AccessError');
    expect(faultFromXmlRpc(1, 'Traceback (most recent call last):\n  File "x"\npsycopg2.errors.SerializationFailure: could not serialize')).toEqual({
      name: 'psycopg2.errors.SerializationFailure',
      message: 'psycopg2.errors.SerializationFailure: could not serialize',
    });
  });
});

describe('aborted calls', () => {
  it('are transient before the request left and ambiguous after, never blamed on the peer', () => {
    const reason = new Error('attempt timed out');
    expect(classifyAbort(reason, false, 'account.move.create')).toMatchObject({ failureClass: 'transient', code: 'aborted_before_send', peerUnavailable: false });
    expect(classifyAbort(reason, true, 'account.move.create')).toMatchObject({ failureClass: 'ambiguous', code: 'aborted_after_send', peerUnavailable: false });
  });
});

describe('external id names', () => {
  it('are valid identifiers, stable, and distinct for keys that slug alike', () => {
    const a = externalIdName('PO-1/line.2');
    expect(a).toMatch(/^[a-z0-9_]+$/);
    expect(externalIdName('PO-1/line.2')).toBe(a);
    expect(externalIdName('po_1_line_2')).not.toBe(a);
    expect(externalIdName('x'.repeat(500)).length).toBeLessThanOrEqual(73);
  });
});

describe('round-trip limiter', () => {
  it('holds a sustained rate with the token bucket', async () => {
    const limiter = new RoundTripLimiter({ maxConcurrency: 10, ratePerSecond: 50, burst: 1 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 6 }, () => limiter.run(async () => undefined)));
    // one from the burst, then five at 20 ms intervals
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('round-trip limiter and abort', () => {
  it('drops a waiter whose signal aborts, and keeps admitting the others', async () => {
    const limiter = new RoundTripLimiter({ maxConcurrency: 1 });
    let release!: () => void;
    const holder = limiter.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    let ran = false;
    const dropped = limiter.run(async () => {
      ran = true;
    }, controller.signal);
    const next = limiter.run(async () => 'next');
    controller.abort(new Error('stop'));
    await expect(dropped).rejects.toThrow('stop');
    release();
    await holder;
    expect(await next).toBe('next');
    expect(ran).toBe(false);
  });
});
