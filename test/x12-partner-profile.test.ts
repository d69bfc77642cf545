import { describe, expect, it } from 'vitest';
import { folderWatchOptions, parsePartnerProfiles } from '../src/connectors/x12/index.ts';

const valid = {
  id: 'medsupply',
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: '01', id: '123456789', applicationCode: 'MEDSUPPLY' },
  version: '005010',
  transport: 'http',
  endpoint: 'https://edi.medsupply.example/x12',
  acknowledgment: { kind: '999', withinMinutes: 60 },
  usage: 'P',
};

/** The error a config mistake gives: a permanent config_invalid whose message and field name the key. */
function errorOf(input: unknown): { code: string; field: string | undefined; message: string } {
  try {
    parsePartnerProfiles(input);
  } catch (error) {
    const e = error as { code: string; where?: { field?: string }; message: string };
    return { code: e.code, field: e.where?.field, message: e.message };
  }
  throw new Error('expected parsePartnerProfiles to refuse the input');
}

describe('x12 partner profiles: errors name the key', () => {
  it('accepts a valid list and returns it typed', () => {
    expect(parsePartnerProfiles([valid])).toEqual([valid]);
  });

  it('gives a folder partner its watcher settings (poll every 5 s unless configured)', () => {
    const [gateway] = parsePartnerProfiles([{ ...valid, transport: 'folder', endpoint: '/srv/edi/out', folder: { inbound: '/srv/edi/in', settleMs: 500 } }]);
    expect(folderWatchOptions(gateway!)).toEqual({ inbound: '/srv/edi/in', settleMs: 500, intervalMs: 5000 });
    expect(() => folderWatchOptions({ ...gateway!, folder: undefined })).toThrow(/no folder.inbound/);
  });

  it.each([
    { what: 'not a list', input: { id: 'x' }, field: 'x12.partners' },
    { what: 'an id with capitals', input: [{ ...valid, id: 'MedSupply' }], field: 'x12.partners[0].id' },
    { what: 'an ISA qualifier of 3 characters', input: [valid, { ...valid, id: 'b', theirs: { ...valid.theirs, qualifier: 'ZZZ' } }], field: 'x12.partners[1].theirs.qualifier' },
    { what: 'an ISA id longer than 15', input: [{ ...valid, ours: { ...valid.ours, id: 'CARELANE-HOSPITALS' } }], field: 'x12.partners[0].ours.id' },
    { what: 'an id carrying a delimiter', input: [{ ...valid, ours: { ...valid.ours, id: 'CARE*LANE' } }], field: 'x12.partners[0].ours.id' },
    { what: 'an unsupported version', input: [{ ...valid, version: '003040' }], field: 'x12.partners[0].version' },
    { what: 'an unknown transport', input: [{ ...valid, transport: 'as2' }], field: 'x12.partners[0].transport' },
    { what: 'an acknowledgment window of 0 minutes', input: [{ ...valid, acknowledgment: { kind: '999', withinMinutes: 0 } }], field: 'x12.partners[0].acknowledgment.withinMinutes' },
    { what: 'usage other than T or P', input: [{ ...valid, usage: 'I' }], field: 'x12.partners[0].usage' },
    { what: 'the same id twice', input: [valid, { ...valid }], field: 'x12.partners[1].id' },
    { what: 'transport folder without its inbound folder', input: [{ ...valid, transport: 'folder', endpoint: '/srv/edi/out' }], field: 'x12.partners[0].folder' },
    { what: 'transport sftp without its mailbox', input: [{ ...valid, transport: 'sftp' }], field: 'x12.partners[0].sftp' },
    { what: 'a folder poll of 0 seconds', input: [{ ...valid, transport: 'folder', endpoint: '/srv/edi/out', folder: { inbound: '/srv/edi/in', pollSeconds: 0 } }], field: 'x12.partners[0].folder.pollSeconds' },
  ])('refuses $what at $field', ({ input, field }) => {
    const error = errorOf(input);
    expect(error.code).toBe('config_invalid');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('names a missing key and an unknown key', () => {
    const { endpoint: _endpoint, ...withoutEndpoint } = valid;
    const missing = errorOf([withoutEndpoint]);
    expect(missing.message).toMatch(/endpoint/);
    expect(missing.field).toMatch(/^x12\.partners\[0\]/);
    const unknown = errorOf([{ ...valid, ours: { ...valid.ours, password: 'x' } }]);
    expect(unknown.field).toMatch(/^x12\.partners\[0\]\.ours/);
    expect(unknown.message).toMatch(/password|additional/i);
  });
});
