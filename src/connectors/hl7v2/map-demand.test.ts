import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CarelaneError } from '../../contracts/errors.ts';
import { PatientTokenizer } from '../../governance/tokenization.ts';
import { Hl7Message } from './hl7-message.ts';
import { mapHl7Demand, type Hl7MappingContext } from './map-demand.ts';
import { decodeMessage } from './message-header.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/realdata/hl7v2');
const allFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? allFiles(full) : /\.(hl7|txt)$/.test(name) ? [full] : [];
  });
const samples = allFiles(ROOT).sort();
const read = (relative: string): string => decodeMessage(readFileSync(path.join(ROOT, relative))).text;

const tokenizer = new PatientTokenizer([{ id: 'k1', secret: 'test-secret-for-hl7-mapping' }], 'k1');
const context: Hl7MappingContext = { tokenize: (identifier) => tokenizer.tokenFor(identifier) };

/** Every PID value long enough to be recognisable (names, ids, dates, addresses), as written in the message. */
function pidValues(message: Hl7Message): string[] {
  const values = new Set<string>();
  for (const pid of message.segmentsNamed('PID')) {
    pid.fields.slice(1).forEach((_, i) => {
      for (let r = 0; r < Math.max(1, message.repetitions(pid, i + 1)); r++) {
        for (const component of message.components(pid, i + 1, r)) for (const part of component.split(message.delimiters.subcomponent)) if (part.length >= 5) values.add(part);
      }
    });
  }
  // Values that occur outside PID too (a facility code, a date shared with MSH-7) are not the patient's.
  const elsewhere = message.segments.filter((s) => s.name !== 'PID').map((s) => s.fields.join('|')).join('\n');
  return [...values].filter((v) => !elsewhere.includes(v));
}

describe('HL7 v2 → canonical demand over every real sample', () => {
  it.each(samples.map((file) => path.relative(ROOT, file)))('%s: mapped, or a classified error; never a crash, no PID data out', (relative) => {
    const text = read(relative);
    let message: Hl7Message;
    try {
      message = Hl7Message.parse(text);
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      expect((error as CarelaneError).failureClass).toBe('permanent');
      return;
    }
    let output: unknown;
    try {
      output = mapHl7Demand(message, context);
    } catch (error) {
      expect(error).toBeInstanceOf(CarelaneError);
      const failure = error as CarelaneError;
      expect(failure.exceptionType).toBe('mapping_failure');
      expect(failure.where?.segment).toMatch(/^[A-Z][A-Z0-9]{2}$/);
      output = { message: failure.message, where: failure.where };
    }
    const serialised = JSON.stringify(output);
    for (const value of pidValues(message)) expect(serialised).not.toContain(value);
  });
});

describe('SIU', () => {
  it('maps the real SIU^S12: booking at PV1-3, start from SCH-11, patient tokenized from PID-3', () => {
    const [signal] = mapHl7Demand(Hl7Message.parse(read('rethinkhealth-hl7v2-qa-fixtures/siu-s12-schedule.hl7')), context);
    expect(signal).toMatchObject({
      kind: 'scheduled_procedure',
      action: 'create',
      status: 'active',
      source: { system: 'SCHED_SYS^HOSP_A', type: 'SIU^S12', id: 'APT001' },
      location: { code: 'CARDIO' },
      scheduledStart: '2026-03-25T14:00:00',
      scheduledEnd: '2026-03-25T14:30:00',
      businessKeys: { placerAppointmentId: 'APT001', fillerAppointmentId: 'APT001', messageControlId: 'SCH00001' },
      patientToken: tokenizer.tokenFor('MRN^|33445'),
    });
  });

  // Built from HL7 v2.5.1 chapter 10 (10.6.1 SCH, 10.6.4 AIS, 10.6.6 AIL): no public sample of S13–S26.
  const siu = (trigger: string, ail = 'AIL|1||OR-3^^^NORTH'): string =>
    [
      `MSH|^~\\&|SCHED|NORTH|CARELANE|NET|20260501080000||SIU^${trigger}^SIU_S12|M-${trigger}|P|2.5.1`,
      'SCH|P-77|F-77||||||^Knee arthroscopy|60|MIN|^^60^20260510090000^20260510100000',
      'PID|1||555666^^^HOSP^MR||DOE^JANE||19700101|F',
      'RGS|1',
      'AIS|1||29881^Arthroscopy, knee^CPT|20260512090000|0|MIN|60|MIN',
      ail,
    ].join('\r');

  it.each([
    ['S13', 'reschedule', 'active'],
    ['S14', 'update', 'active'],
    ['S15', 'cancel', 'cancelled'],
    ['S26', 'no_show', 'no_show'],
  ])('SIU^%s → %s', (trigger, action, status) => {
    const [signal] = mapHl7Demand(Hl7Message.parse(siu(trigger)), context);
    expect(signal).toMatchObject({
      action,
      status,
      procedure: { system: 'CPT', code: '29881' },
      location: { code: 'OR-3', system: 'facility:NORTH' },
      scheduledStart: '2026-05-12T09:00:00',
    });
    expect(JSON.stringify(signal)).not.toMatch(/555666|DOE|JANE|19700101/);
  });

  it('fails with AIL-3 when no location is given', () => {
    expect(() => mapHl7Demand(Hl7Message.parse(siu('S12', 'AIL|1||')), context)).toThrow(
      expect.objectContaining({ failureClass: 'business', exceptionType: 'mapping_failure', where: { segment: 'AIL', field: 'AIL.3', line: 6 } }),
    );
  });
});

describe('orders', () => {
  it('maps the real ORM^O01: new order, OBR-4 procedure, PV1-3 location', () => {
    const [signal] = mapHl7Demand(Hl7Message.parse(read('rethinkhealth-hl7v2-qa-fixtures/orm-o01-order.hl7')), context);
    expect(signal).toMatchObject({
      kind: 'procedure',
      action: 'create',
      procedure: { system: 'CPT', code: '80053' },
      location: { code: 'CLINIC' },
      businessKeys: { placerOrderNumber: 'ORD20001', placerGroupNumber: 'REQGRP001' },
    });
  });

  it('maps the Epic ORM^O01 cancel (ORC-1 CA) without carrying PID-2/PID-3 or the SSN', () => {
    const [signal] = mapHl7Demand(Hl7Message.parse(read('cdcgov-trusted-intermediary/Epic_001_Epic_ORM_O01.hl7')), context);
    expect(signal).toMatchObject({ action: 'cancel', status: 'cancelled', source: { system: 'EPICSTND^MB003480' }, businessKeys: { placerOrderNumber: '968906415' } });
    expect(signal?.patientToken).toBe(tokenizer.tokenFor('^EPI|E7082628'));
    expect(JSON.stringify(signal)).not.toContain('E7082628');
  });

  it('parks an Oracle ORM^O01 whose ORC-1 is an untranslated code value, naming ORC.1 and its line', () => {
    const message = Hl7Message.parse(read('cdcgov-trusted-intermediary/Oracle_001_Oracle_ORM_O01.hl7'));
    const orc = message.segment('ORC')!;
    expect(() => mapHl7Demand(message, context)).toThrow(expect.objectContaining({ code: 'hl7_unknown_order_control', where: { segment: 'ORC', field: 'ORC.1', line: orc.line } }));
  });

  // OMS^O05 (v2.5.1 4A.3.1: MSH PID PV1 ORC TQ1 RQD): no public sample, built from the spec.
  it('maps an OMS^O05 supply order: RQD items, quantities, units, date needed', () => {
    const text = [
      'MSH|^~\\&|MATMGMT|NORTH|CARELANE|NET|20260502101500||OMS^O05^OMS_O05|OMS-1|P|2.5.1',
      'PID|1||900100^^^HOSP^MR||ROE^RICHARD||19601212|M',
      'PV1|1|I|CATHLAB^2^^NORTH',
      'ORC|NW|SUP-1001^MATMGMT||GRP-9',
      'TQ1|1||||||20260503070000',
      'RQD|1|100-2001^Guidewire 0.035^MM|||10|EA^each^UCUM||||20260503',
      'RQD|2|100-2002^Sheath 6F^MM|||4|EA^each^UCUM',
    ].join('\r');
    const [signal] = mapHl7Demand(Hl7Message.parse(text), context);
    expect(signal).toMatchObject({
      kind: 'supply',
      action: 'create',
      location: { code: 'CATHLAB', system: 'facility:NORTH' },
      items: [
        { code: { system: 'MM', code: '100-2001', display: 'Guidewire 0.035' }, quantity: 10, unit: 'EA' },
        { code: { system: 'MM', code: '100-2002' }, quantity: 4, unit: 'EA' },
      ],
      scheduledStart: '2026-05-03',
      businessKeys: { placerOrderNumber: 'SUP-1001', placerGroupNumber: 'GRP-9' },
    });
    expect(JSON.stringify(signal)).not.toMatch(/900100|ROE|RICHARD|19601212/);
  });

  it('fails an OMS^O05 RQD with no item code at RQD.2', () => {
    const text = ['MSH|^~\\&|MATMGMT|NORTH|CARELANE|NET|20260502101500||OMS^O05^OMS_O05|OMS-2|P|2.5.1', 'PV1|1|I|CATHLAB', 'ORC|NW|SUP-1002', 'RQD|1|||||EA'].join('\r');
    expect(() => mapHl7Demand(Hl7Message.parse(text), context)).toThrow(expect.objectContaining({ code: 'hl7_no_item_code', where: { segment: 'RQD', field: 'RQD.2', line: 4 } }));
  });

  // OMG^O19 (v2.5.1 4.4.6: MSH PID PV1 ORC TQ1 OBR): built from the spec.
  it('maps an OMG^O19 general order: two ORC groups, discontinue and new', () => {
    const text = [
      'MSH|^~\\&|CPOE|NORTH|CARELANE|NET|20260502110000||OMG^O19^OMG_O19|OMG-1|P|2.5.1',
      'PID|1||900200^^^HOSP^MR||POE^ANNA||19900303|F',
      'PV1|1|O|ENDO^1^^NORTH',
      'ORC|NW|ORD-1',
      'TQ1|1||||||20260505083000',
      'OBR|1|ORD-1||45378^Colonoscopy^CPT',
      'ORC|DC|ORD-0',
      'OBR|1|ORD-0||45380^Colonoscopy with biopsy^CPT',
    ].join('\r');
    const signals = mapHl7Demand(Hl7Message.parse(text), context);
    expect(signals.map((s) => [s.action, s.procedure?.code, s.scheduledStart])).toEqual([
      ['create', '45378', '2026-05-05T08:30:00'],
      ['cancel', '45380', undefined],
    ]);
  });

  // RDE^O11 (v2.5.1 4A.3.3: ORC RXE): built from the spec.
  it('maps an RDE^O11 pharmacy order from RXE: give code, dispense amount and units, deliver-to location', () => {
    const text = [
      'MSH|^~\\&|PHARM|NORTH|CARELANE|NET|20260502120000||RDE^O11^RDE_O11|RDE-1|P|2.5.1',
      'PID|1||900300^^^HOSP^MR||DOE^JOHN||19550505|M',
      'ORC|NW|RX-1',
      'RXE|^^^20260502120000|00409-4888-01^Heparin 5000 units/mL^NDC|5000||U^units|||ICU^^^NORTH||10|VIAL^vial',
    ].join('\r');
    const [signal] = mapHl7Demand(Hl7Message.parse(text), context);
    expect(signal).toMatchObject({
      kind: 'medication',
      location: { code: 'ICU', system: 'facility:NORTH' },
      items: [{ code: { system: 'NDC', code: '00409-4888-01' }, quantity: 10, unit: 'VIAL' }],
    });
  });
});

describe('charges', () => {
  it('maps the real DFT^P03: FT1 charge → utilization at PV1-3, quantity FT1-10', () => {
    const signals = mapHl7Demand(Hl7Message.parse(read('rethinkhealth-hl7v2-qa-fixtures/dft-p03-charge.hl7')), context);
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({
      kind: 'utilization',
      action: 'complete',
      items: [{ code: { system: 'CPT', code: '99213' }, quantity: 1 }],
      location: { code: 'SURG' },
      scheduledStart: '2026-04-01',
    });
    // PV1-19 visit number is patient-linked: not a business key.
    expect(JSON.stringify(signals)).not.toContain('VISIT001');
  });

  it('maps a credit (FT1-6 CD) as a reversal and skips payments', () => {
    const text = [
      'MSH|^~\\&|BILLING|NORTH|CARELANE|NET|20260502130000||DFT^P03^DFT_P03|DFT-2|P|2.5.1',
      'PV1|1|I|OR^5',
      'FT1|1|T-1||20260502||CD|C1776^Joint device^HCPCS|||2',
      'FT1|2|T-2||20260502||PY|PAY^Payment',
    ].join('\r');
    const signals = mapHl7Demand(Hl7Message.parse(text), context);
    expect(signals).toEqual([expect.objectContaining({ action: 'cancel', items: [{ code: { system: 'HCPCS', code: 'C1776', display: 'Joint device' }, quantity: 2 }] })]);
  });
});

describe('ADT location changes', () => {
  // Built from HL7 v2.5.1 chapter 3 (3.3.2 A02 transfer, 3.3.8 A08 update): MSH EVN PID PV1.
  const adt = (trigger: string, pv1: string, pid = 'PID|1||445566^^^HOSP^MR||ROE^MARY||19800202|F'): string =>
    [`MSH|^~\\&|ADT|NORTH|CARELANE|NET|20260503090000||ADT^${trigger}^ADT_A02|ADT-${trigger}|P|2.5.1`, `EVN|${trigger}|20260503085900||||20260503085500`, pid, pv1].join('\r');

  it('ADT^A02 → update with the new PV1-3 location for the patient token, prior location kept, no visit number', () => {
    const [signal] = mapHl7Demand(Hl7Message.parse(adt('A02', 'PV1|1|I|WARD3^12^A^NORTH|||ICU^2^B^NORTH||||||||||||V-998877')), context);
    expect(signal).toMatchObject({
      kind: 'supply',
      action: 'update',
      status: 'active',
      source: { type: 'ADT^A02', id: 'ADT-A02' },
      location: { code: 'WARD3', system: 'facility:NORTH' },
      patientToken: tokenizer.tokenFor('HOSP^MR|445566'),
      businessKeys: { appliesTo: 'patient-open-demand', priorLocation: 'ICU|facility:NORTH' },
      occurredAt: '2026-05-03T08:55:00',
    });
    expect(JSON.stringify(signal)).not.toMatch(/445566|ROE|MARY|19800202|V-998877/);
  });

  it('ADT^A08 with the same prior and current location moved nobody: no signal; with a new one, an update', () => {
    expect(mapHl7Demand(Hl7Message.parse(adt('A08', 'PV1|1|I|WARD3^12^^NORTH|||WARD3^12^^NORTH')), context)).toEqual([]);
    expect(mapHl7Demand(Hl7Message.parse(adt('A08', 'PV1|1|I|CATHLAB^^^NORTH')), context)).toEqual([expect.objectContaining({ action: 'update', location: { code: 'CATHLAB', system: 'facility:NORTH' } })]);
  });

  it('refuses a transfer without PV1-3 or without a patient identifier, naming the field and line', () => {
    expect(() => mapHl7Demand(Hl7Message.parse(adt('A02', 'PV1|1|I|')), context)).toThrow(expect.objectContaining({ code: 'hl7_no_location', where: { segment: 'PV1', field: 'PV1.3', line: 4 } }));
    expect(() => mapHl7Demand(Hl7Message.parse(adt('A02', 'PV1|1|I|WARD3', 'PID|1||')), context)).toThrow(expect.objectContaining({ code: 'hl7_no_patient', where: { segment: 'PID', field: 'PID.3', line: 3 } }));
  });
});
