import type { Appointment, Procedure, SupplyRequest } from '@medplum/fhirtypes';
import type { EhrSimulator } from '../ehr/index.ts';
import { EHR_ITEM_SYSTEM, locationId, PRODUCTS, SITES, SNOMED, type DemoSite } from './network.ts';

export interface DriverOptions {
  /** the HL7 v2 EHR (North) and the FHIR EHR (Lakeside, Eastside) */
  hl7Ehr: EhrSimulator;
  fhirEhr: EhrSimulator;
  /** one clinical event every intervalMs (default 3 s) */
  intervalMs?: number;
  random?: () => number;
  onError?: (error: unknown) => void;
}

interface Booked {
  site: DemoSite;
  appointmentId: string;
  /** patient and start: an EHR's scheduler refuses a second booking of one patient at one time */
  slotKey: string;
}

/**
 * Keeps the demo network busy like a real one: procedures booked (SIU^S12 over MLLP at North, FHIR Appointment
 * notifications at the clinics), some moved or cancelled, ward supply requests, now and then a supply code the
 * crosswalks do not know (a mapping_failure to resolve in the exception queue), a booking entered twice
 * under two ids (a duplicate_order), and procedures performed: the supplies they used charged (DFT^P03 at
 * North) or recorded on a FHIR Procedure (the clinics), which cost allocation posts to the rooms' cost centres.
 * Runs until stopped; each step is one EHR event.
 */
export class DemoDriver {
  private readonly options: Required<Omit<DriverOptions, 'onError'>> & Pick<DriverOptions, 'onError'>;
  private readonly booked: Booked[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private step = 0;

  constructor(options: DriverOptions) {
    this.options = { intervalMs: 3000, random: Math.random, ...options };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(async () => void (await this.next())).catch((error: unknown) => this.options.onError?.(error));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running.catch(() => {});
  }

  /** One clinical event; public so a test can step the scenario without waiting. */
  async next(): Promise<string> {
    this.step++;
    const roll = this.options.random();
    if (this.step % 17 === 0) return this.supplyRequest(true);
    if (this.step % 23 === 0 && this.booked.length > 0) return this.duplicateBooking();
    if (this.step % 5 === 0 && this.booked.length > 3) return this.perform();
    if (roll < 0.55 || this.booked.length < 3) return this.book();
    if (roll < 0.67) return this.reschedule();
    if (roll < 0.77) return this.cancel();
    return this.supplyRequest(false);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.options.random() * items.length)]!;
  }

  private ehrOf(site: DemoSite): EhrSimulator {
    return site.ehr === 'hl7' ? this.options.hl7Ehr : this.options.fhirEhr;
  }

  private slot(minutes: number): { start: string; end: string } {
    const start = new Date(Date.now() + (1 + Math.floor(this.options.random() * 14)) * 86_400_000);
    start.setUTCHours(7 + Math.floor(this.options.random() * 9), 0, 0, 0);
    return { start: start.toISOString(), end: new Date(start.getTime() + minutes * 60_000).toISOString() };
  }

  /**
   * A time the patient is not already booked at. Drawn at random, the demo's few patients and slots made the
   * same patient, room, procedure and time come up twice within minutes at 10× pace: a duplicate_order the
   * driver did not mean (only duplicateBooking is meant to make one).
   */
  private freeSlot(patientId: string, minutes: number): { start: string; end: string } | undefined {
    const taken = new Set(this.booked.map((b) => b.slotKey));
    for (let attempt = 0; attempt < 20; attempt++) {
      const slot = this.slot(minutes);
      if (!taken.has(`${patientId}|${slot.start}`)) return slot;
    }
    return undefined;
  }

  private async book(): Promise<string> {
    const site = this.pick(SITES);
    const procedure = this.pick(site.procedures);
    const room = this.pick(site.rooms.filter((r) => !r.code.startsWith('WARD')));
    const ehr = this.ehrOf(site);
    const patient = this.pick(ehr.scenario.patients);
    const slot = this.freeSlot(patient.id!, procedure.minutes);
    if (!slot) return 'no free slot';
    const appointment = ehr.book({ patientId: patient.id!, locationId: locationId(site, room), ...slot, service: { system: SNOMED, code: procedure.code, display: procedure.display } });
    await this.announce(site, 'S12', appointment);
    this.booked.push({ site, appointmentId: appointment.id!, slotKey: `${patient.id}|${slot.start}` });
    return `booked ${procedure.display} at ${site.name}`;
  }

  private async reschedule(): Promise<string> {
    const booking = this.pick(this.booked);
    const ehr = this.ehrOf(booking.site);
    const current = ehr.store.read('Appointment', booking.appointmentId) as Appointment | undefined;
    if (!current || current.status === 'cancelled') return 'nothing to reschedule';
    const minutes = (Date.parse(current.end!) - Date.parse(current.start!)) / 60_000;
    const patientId = booking.slotKey.split('|')[0]!;
    const slot = this.freeSlot(patientId, minutes);
    if (!slot) return 'no free slot';
    const moved = ehr.reschedule(booking.appointmentId, slot.start, slot.end);
    booking.slotKey = `${patientId}|${slot.start}`;
    await this.announce(booking.site, 'S14', moved);
    return `rescheduled an appointment at ${booking.site.name}`;
  }

  private async cancel(): Promise<string> {
    const index = Math.floor(this.options.random() * this.booked.length);
    const [booking] = this.booked.splice(index, 1);
    if (!booking) return 'nothing to cancel';
    const cancelled = this.ehrOf(booking.site).cancel(booking.appointmentId);
    await this.announce(booking.site, 'S15', cancelled);
    return `cancelled an appointment at ${booking.site.name}`;
  }

  /**
   * A booked procedure is performed (now, whatever its booked time: the demo has no clock to wait for) and what
   * its kit used is reported: charges per item from North's billing interface, a completed Procedure with its
   * used items at the FHIR clinics (usedCode carries no quantity: one each).
   */
  private async perform(): Promise<string> {
    const [booking] = this.booked.splice(Math.floor(this.options.random() * this.booked.length), 1);
    if (!booking) return 'nothing to perform';
    const ehr = this.ehrOf(booking.site);
    const appointment = ehr.store.read('Appointment', booking.appointmentId) as Appointment | undefined;
    const service = appointment?.serviceType?.[0]?.coding?.[0];
    const procedure = booking.site.procedures.find((p) => p.code === service?.code);
    if (!appointment || appointment.status === 'cancelled' || !procedure) return 'nothing to perform';
    const name = (code: string) => PRODUCTS.find((p) => p.code === code)?.name ?? code;
    if (booking.site.ehr === 'hl7') {
      await this.options.hl7Ehr.sendCharges(
        booking.appointmentId,
        procedure.kit.map(([code, quantity], index) => ({ transactionId: `${booking.appointmentId}-${index + 1}`, code, display: name(code), system: EHR_ITEM_SYSTEM, quantity })),
      );
    } else {
      const actor = (type: string) => appointment.participant.find((p) => p.actor?.reference?.startsWith(`${type}/`))?.actor;
      const performed: Procedure = {
        resourceType: 'Procedure',
        status: 'completed',
        subject: { reference: actor('Patient')?.reference ?? '' },
        code: { coding: [{ system: SNOMED, code: procedure.code, display: procedure.display }] },
        performedDateTime: new Date().toISOString(),
        location: { reference: actor('Location')?.reference ?? '' },
        usedCode: procedure.kit.map(([code]) => ({ coding: [{ system: EHR_ITEM_SYSTEM, code, display: name(code) }] })),
      };
      this.options.fhirEhr.store.put(performed);
    }
    return `performed ${procedure.display} at ${booking.site.name}`;
  }

  /** The same patient, room, procedure and time booked again under a new id: what a double entry looks like. */
  private async duplicateBooking(): Promise<string> {
    const booking = this.pick(this.booked);
    const ehr = this.ehrOf(booking.site);
    const original = ehr.store.read('Appointment', booking.appointmentId) as Appointment | undefined;
    if (!original || original.status === 'cancelled') return 'nothing to duplicate';
    const actor = (type: string) => original.participant.find((p) => p.actor?.reference?.startsWith(`${type}/`))?.actor?.reference?.split('/')[1] ?? '';
    const copy = ehr.book({ patientId: actor('Patient'), locationId: actor('Location'), start: original.start!, end: original.end!, service: original.serviceType![0]!.coding![0]! as { system: string; code: string; display: string } });
    await this.announce(booking.site, 'S12', copy);
    return `booked a duplicate at ${booking.site.name}`;
  }

  /**
   * A ward or room asks for supplies (FHIR SupplyRequest) for a time of its choosing, as wards do; `unknown` asks
   * for a code no crosswalk has. Without a time, two requests of one room for the same item and quantity are
   * twins by Carelane's duplicate rule: at 10× pace that made duplicate_order exceptions the driver never meant.
   */
  private async supplyRequest(unknown: boolean): Promise<string> {
    const site = this.pick(SITES.filter((s) => s.ehr === 'fhir'));
    const room = this.pick(site.rooms);
    const product = this.pick(PRODUCTS);
    const code = unknown ? 'SPONGE-LAP-18' : product.code;
    const request: SupplyRequest = {
      resourceType: 'SupplyRequest',
      status: 'active',
      itemCodeableConcept: { coding: [{ system: EHR_ITEM_SYSTEM, code, display: unknown ? 'Laparotomy sponge 18 in' : product.name }] },
      quantity: { value: 1 + Math.floor(this.options.random() * 4), unit: 'EA' },
      deliverTo: { reference: `Location/${locationId(site, room)}` },
      authoredOn: new Date().toISOString(),
      occurrenceDateTime: this.neededBy(),
    };
    this.options.fhirEhr.store.put(request);
    return `${site.name} asked for ${code}`;
  }

  /** Some minute in the next 2 to 26 hours. */
  private neededBy(): string {
    const minutes = 120 + Math.floor(this.options.random() * 24 * 60);
    const at = new Date(Date.now() + minutes * 60_000);
    at.setUTCSeconds(0, 0);
    return at.toISOString();
  }

  private async announce(site: DemoSite, trigger: 'S12' | 'S14' | 'S15', appointment: Appointment): Promise<void> {
    // The FHIR EHR's subscription notifies by itself; the HL7 v2 EHR sends the SIU.
    if (site.ehr === 'hl7') await this.options.hl7Ehr.sendSchedule(trigger, appointment.id!);
  }
}
