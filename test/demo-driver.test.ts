import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Appointment } from '@medplum/fhirtypes';
import { startEhrSimulator, type EhrSimulator } from '../simulators/ehr/index.ts';
import { DemoDriver, ehrScenario } from '../simulators/demo/index.ts';

/**
 * The demo driver makes duplicate_order exceptions only on purpose (its duplicateBooking step): random bookings
 * must never put one patient at one time twice, which Carelane rightly refuses as a duplicate.
 */
describe('demo driver', () => {
  let hl7Ehr: EhrSimulator;
  let fhirEhr: EhrSimulator;
  beforeAll(async () => {
    // no MLLP peer: the driver below only books at the FHIR clinics, whose EHR notifies by subscription
    hl7Ehr = await startEhrSimulator({ scenario: ehrScenario('hl7') });
    fhirEhr = await startEhrSimulator({ scenario: ehrScenario('fhir') });
  });
  afterAll(async () => {
    await hl7Ehr?.close();
    await fhirEhr?.close();
  });

  it('never books one patient twice at one time, even when chance keeps drawing the same slot', async () => {
    // 0.5 picks a FHIR clinic, the same room, procedure, patient, day and hour every time, and means "book"
    const driver = new DemoDriver({ hl7Ehr, fhirEhr, random: () => 0.5 });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await driver.next());
    const booked = fhirEhr.store.all('Appointment') as Appointment[];
    const slots = booked.map((a) => `${a.participant.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor?.reference}|${a.start}`);
    expect(booked.length).toBeGreaterThan(0);
    expect(new Set(slots).size).toBe(slots.length);
    expect(outcomes).toContain('no free slot');
  });
});
