import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from './signature.ts';

const at = new Date('2025-03-01T10:00:00Z');
const body = '{"poNumber":"PO-1","status":"accepted"}';

describe('supplier REST request signatures (HMAC-SHA256, timestamped)', () => {
  it('accepts a body signed with the current or the previous secret within the window', () => {
    const header = signBody('old-secret', body, at);
    expect(() => verifySignature(header, body, ['new-secret', 'old-secret'], { now: new Date(at.getTime() + 299_000) })).not.toThrow();
  });

  it('refuses a changed body, a wrong secret, a replay outside the window, and a missing or malformed header', () => {
    const header = signBody('s', body, at);
    expect(() => verifySignature(header, body.replace('PO-1', 'PO-2'), ['s'], { now: at })).toThrow(expect.objectContaining({ code: 'signature_invalid' }));
    expect(() => verifySignature(header, body, ['other'], { now: at })).toThrow(expect.objectContaining({ code: 'signature_invalid' }));
    expect(() => verifySignature(header, body, ['s'], { now: new Date(at.getTime() + 301_000) })).toThrow(expect.objectContaining({ code: 'signature_expired', failureClass: 'permanent' }));
    expect(() => verifySignature(undefined, body, ['s'], { now: at })).toThrow(expect.objectContaining({ code: 'signature_missing' }));
    expect(() => verifySignature('v1=abc', body, ['s'], { now: at })).toThrow(expect.objectContaining({ code: 'signature_malformed' }));
  });
});
