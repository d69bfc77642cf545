import { describe, expect, it } from 'vitest';
import { hibcCheckCharacter, isHibc, parseHibc } from '../src/connectors/gs1/index.ts';

// HIBC (ANSI/HIBC 2.6) samples as published: the "+A999…" supplemental example of the HIBC standard and two
// labels with their check characters from public HIBC libraries' tests; the lot/date examples of the standard
// use the placeholders L (link) and C (check), so they are read with the check character not verified.
describe('HIBCC UDI', () => {
  it('computes the mod-43 check character (Code 39 values) of published labels', () => {
    expect(hibcCheckCharacter('+E20831269/$$8020423286539')).toBe('+');
    expect(hibcCheckCharacter('+E20831339/$$8020223283831')).toBe('T');
    expect(hibcCheckCharacter('+A99912345/$$52001510X3/16D20111212/S77DE1G45')).toBe('-');
    // each single character is its own check character (value mod 43)
    for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%') expect(hibcCheckCharacter(c)).toBe(c);
  });

  it('reads a concatenated label: UDI-DI from the primary, lot, expiry, production date and serial from the secondary', () => {
    expect(parseHibc('+A99912345/$$52001510X3/16D20111212/S77DE1G45-')).toEqual({
      kind: 'concatenated',
      labelerId: 'A999',
      productNumber: '1234',
      unitOfMeasure: 5,
      udiDi: 'A99912345',
      expiryDate: '2020-01-15', // $$5 → YYJJJ 20015
      lot: '10X3',
      productionDate: '2011-12-12',
      serial: '77DE1G45',
      checkCharacter: '-',
    });
    expect(parseHibc('+E20831269/$$8020423286539+')).toMatchObject({ labelerId: 'E208', productNumber: '3126', unitOfMeasure: 9, quantity: 2, expiryDate: '2023-04-30', lot: '286539' });
    // from scan data: Data Matrix symbology identifier, and Code 39's printed * delimiters
    expect(parseHibc(']d1+E20831339/$$8020223283831T')).toMatchObject({ quantity: 2, expiryDate: '2023-02-28', lot: '283831' });
    expect(parseHibc('*+E20831339/$$8020223283831T*').udiDi).toBe('E20831339');
    expect(isHibc(']C0+E20831339/$$8020223283831T')).toBe(true);
    expect(isHibc(']d2010061414199999910ABC')).toBe(false);
  });

  it('refuses a wrong check character, a bad primary and impossible dates, naming the position', () => {
    expect(() => parseHibc('+E20831339/$$8020223283831X')).toThrow(expect.objectContaining({ code: 'hibc_check_character', where: { position: 27 } }));
    const labeled = (data: string) => data + hibcCheckCharacter(data);
    expect(() => parseHibc(labeled('+A9/$$3051301LOT'))).toThrow(expect.objectContaining({ code: 'hibc_primary' }));
    expect(() => parseHibc(labeled('+A99912345/$$3051301LOT'))).toThrow(expect.objectContaining({ code: 'hibc_date' })); // 2005-13-01
    expect(() => parseHibc(labeled('+A99912345/$$505400LOT'))).toThrow(expect.objectContaining({ code: 'hibc_date' })); // day 400
    expect(() => parseHibc('+a9991234€')).toThrow(expect.objectContaining({ code: 'hibc_charset' }));
  });

  it('reads every secondary format of the standard (quantity, date flags 0–7, lot or serial, old Julian)', () => {
    const read = (text: string) => parseHibc(text, { verifyCheckCharacter: false });
    const lot = '3C001';
    expect(read('+05271LC')).toMatchObject({ kind: 'secondary', expiryDate: '2005-09-28', linkCharacter: 'L', checkCharacter: 'C' });
    expect(read('+$3C001LC')).toMatchObject({ lot });
    expect(read('+$$09053C001LC')).toMatchObject({ expiryDate: '2005-09-30', lot });
    expect(read('+$$20928053C001LC')).toMatchObject({ expiryDate: '2005-09-28', lot });
    expect(read('+$$30509283C001LC')).toMatchObject({ expiryDate: '2005-09-28', lot });
    expect(read('+$$4050928223C001LC')).toMatchObject({ expiryDate: '2005-09-28', expiryHour: 22, lot });
    expect(read('+$$5052713C001LC')).toMatchObject({ expiryDate: '2005-09-28', lot });
    expect(read('+$$605271223C001LC')).toMatchObject({ expiryDate: '2005-09-28', expiryHour: 22, lot });
    expect(read('+$$73C001LC')).toMatchObject({ lot });
    expect(read('+$$82409053C001LC')).toMatchObject({ quantity: 24, expiryDate: '2005-09-30', lot });
    expect(read('+$$824LC')).toEqual({ kind: 'secondary', quantity: 24, linkCharacter: 'L', checkCharacter: 'C' });
    expect(read('+$$90010009053C001LC')).toMatchObject({ quantity: 100, expiryDate: '2005-09-30', lot });
    expect(read('+$$+09050001LC')).toMatchObject({ expiryDate: '2005-09-30', serial: '0001' });
    expect(read('+$+0001LC')).toMatchObject({ serial: '0001' });
    expect(read('+H124009993019351/1715160668893E07/')).toMatchObject({ kind: 'concatenated', labelerId: 'H124', productNumber: '00999301935', unitOfMeasure: 1, expiryDate: '2017-05-31', lot: '60668893E07' });
  });
});
