import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Appointment, Location, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { FHIR_JSON, fhirApi, outcome } from './fhir-api.ts';
import { dftMessage, Hl7Sender, ormMessage, siuMessage, type Charge, type Hl7Endpoint, type Hl7Exchange, type ScheduleTrigger } from './hl7-sender.ts';
import { defaultScenario, type EhrScenario } from './scenario.ts';
import { ResourceStore } from './store.ts';
import { SubscriptionNotifier, type SentNotification, type SubscriptionSettings } from './subscriptions.ts';

/**
 * An EHR stand-in (DESIGN.md principle 6): a FHIR R4 server at `<url>/fhir` for the resources Carelane reads
 * (fhir-api.ts), REST-hook subscriptions that notify Carelane of changes (subscriptions.ts) and an HL7 v2
 * sender over MLLP (hl7-sender.ts), all on one invented scenario (scenario.ts). Faults make the FHIR API
 * behave like an EHR having a bad day: 'down' (connections dropped without an answer), '5xx' (503 with
 * Retry-After and an OperationOutcome, http.html), 'slow' (answers after `slowMs`).
 */

export type EhrFault = 'none' | 'down' | '5xx' | 'slow';

export interface EhrSimulatorOptions {
  host?: string;
  /** 0 = any free port */
  port?: number;
  scenario?: EhrScenario;
  subscriptions?: SubscriptionSettings[];
  /** Carelane's MLLP listener */
  hl7?: Hl7Endpoint;
  requireIfMatch?: boolean;
  bearerToken?: string;
  fault?: EhrFault;
  slowMs?: number;
  now?: () => Date;
}

export interface BookingRequest {
  patientId: string;
  locationId: string;
  start: string;
  end: string;
  service: { system: string; code: string; display: string };
  basedOn?: string;
}

export interface EhrSimulator {
  /** the FHIR service base URL, e.g. http://127.0.0.1:4321/fhir */
  fhirBaseUrl: string;
  port: number;
  scenario: EhrScenario;
  store: ResourceStore;
  /** every notification POSTed so far (after retries), in order */
  notifications(): SentNotification[];
  setFault(fault: EhrFault): void;
  /** books a new Appointment (status booked) as a scheduler would: subscribers are notified */
  book(request: BookingRequest): Appointment;
  /** changes an Appointment's status to cancelled (appointment.html: status cancelled, cancelationReason) */
  cancel(appointmentId: string): Appointment;
  /** moves an Appointment (a new start and end, still booked) */
  reschedule(appointmentId: string, start: string, end: string): Appointment;
  /** sends the SIU^S12/S14/S15 of an Appointment over MLLP */
  sendSchedule(trigger: ScheduleTrigger, appointmentId: string): Promise<Hl7Exchange>;
  /** sends the ORM^O01 of a ServiceRequest over MLLP */
  sendOrder(serviceRequestId: string): Promise<Hl7Exchange>;
  /** sends the DFT^P03 charges of the supplies an Appointment's procedure used, over MLLP */
  sendCharges(appointmentId: string, charges: Charge[]): Promise<Hl7Exchange>;
  /** resolves once every queued notification was sent or given up */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startEhrSimulator(options: EhrSimulatorOptions = {}): Promise<EhrSimulator> {
  const scenario = structuredClone(options.scenario ?? defaultScenario());
  const store = new ResourceStore(options.now);
  let fault: EhrFault = options.fault ?? 'none';
  let fhirBaseUrl = '';
  const api = fhirApi({ store, baseUrl: () => fhirBaseUrl, requireIfMatch: options.requireIfMatch ?? false, ...(options.bearerToken ? { bearerToken: options.bearerToken } : {}) });
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    if (fault === 'down') return void req.socket.destroy();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = () => {
        const reply = fault === '5xx' ? outcome(503, 'transient', 'the EHR is temporarily unavailable', {}, { 'retry-after': '1' }) : api(req, Buffer.concat(chunks).toString('utf8'));
        const headers: Record<string, string> = { ...reply.headers };
        if (reply.body !== undefined) headers['content-type'] = FHIR_JSON;
        res.writeHead(reply.status, headers).end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
      };
      if (fault === 'slow') setTimeout(answer, options.slowMs ?? 2000);
      else answer();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  fhirBaseUrl = `http://${address.address}:${address.port}/fhir`;

  // The scenario is loaded before subscriptions start: it is the EHR's state, not news.
  for (const resource of [...scenario.patients, ...scenario.locations, ...scenario.demand]) store.put(resource);
  const notifiers = (options.subscriptions ?? []).map((settings) => new SubscriptionNotifier(settings, () => fhirBaseUrl));
  for (const notifier of notifiers) {
    store.onChange((change) => notifier.changed(change));
    notifier.start();
  }
  const hl7 = options.hl7 ? new Hl7Sender(options.hl7) : undefined;
  let bookings = 0;

  const current = <T extends Resource>(type: T['resourceType'], id: string): T => {
    const found = store.read(type, id);
    if (!found) throw new Error(`${type}/${id} is not in the simulator's store`);
    return found as T;
  };
  const reference = (resource: Patient | Location): { reference: string; display: string } => ({
    reference: `${resource.resourceType}/${resource.id}`,
    display: resource.resourceType === 'Patient' ? `${resource.name?.[0]?.given?.[0]} ${resource.name?.[0]?.family}` : (resource.name ?? ''),
  });
  const appointmentParties = (appointment: Appointment): { patient: Patient; location: Location } => {
    const actor = (type: string) => appointment.participant.find((p) => p.actor?.reference?.startsWith(`${type}/`))?.actor?.reference?.split('/')[1];
    return { patient: current<Patient>('Patient', actor('Patient') ?? ''), location: current<Location>('Location', actor('Location') ?? '') };
  };
  const requireHl7 = (): Hl7Sender => {
    if (!hl7) throw new Error('the EHR simulator was started without an hl7 endpoint');
    return hl7;
  };

  return {
    fhirBaseUrl,
    port: address.port,
    scenario,
    store,
    notifications: () => notifiers.flatMap((n) => n.sent),
    setFault: (next) => {
      fault = next;
      if (next === 'down') for (const socket of sockets) socket.destroy();
    },
    book: (request) => {
      bookings += 1;
      const patient = current<Patient>('Patient', request.patientId);
      const location = current<Location>('Location', request.locationId);
      const appointment: Appointment = {
        resourceType: 'Appointment',
        identifier: [{ system: 'http://ehr.carelane-simulator.invalid/appointment', value: `APT-B${String(bookings).padStart(4, '0')}` }],
        status: 'booked',
        serviceType: [{ coding: [request.service] }],
        start: request.start,
        end: request.end,
        ...(request.basedOn ? { basedOn: [{ reference: request.basedOn }] } : {}),
        participant: [
          { actor: reference(patient), status: 'accepted' },
          { actor: reference(location), status: 'accepted' },
        ],
      };
      return store.put(appointment).resource;
    },
    cancel: (appointmentId) => {
      const appointment = current<Appointment>('Appointment', appointmentId);
      return store.put({ ...appointment, status: 'cancelled', cancelationReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason', code: 'pat' }] } }).resource;
    },
    reschedule: (appointmentId, start, end) => store.put({ ...current<Appointment>('Appointment', appointmentId), start, end }).resource,
    sendSchedule: async (trigger, appointmentId) => {
      const sender = requireHl7();
      const appointment = current<Appointment>('Appointment', appointmentId);
      const { patient, location } = appointmentParties(appointment);
      return sender.send(siuMessage(trigger, appointment, patient, location, sender.controlId()));
    },
    sendOrder: async (serviceRequestId) => {
      const sender = requireHl7();
      const order = current<ServiceRequest>('ServiceRequest', serviceRequestId);
      const patient = current<Patient>('Patient', order.subject.reference?.split('/')[1] ?? '');
      const location = current<Location>('Location', order.locationReference?.[0]?.reference?.split('/')[1] ?? '');
      return sender.send(ormMessage(order, patient, location, sender.controlId()));
    },
    sendCharges: async (appointmentId, charges) => {
      const sender = requireHl7();
      const appointment = current<Appointment>('Appointment', appointmentId);
      const { patient, location } = appointmentParties(appointment);
      return sender.send(dftMessage(charges, appointment, patient, location, sender.controlId()));
    },
    idle: async () => {
      await Promise.all(notifiers.map((n) => n.idle()));
    },
    close: async () => {
      await Promise.all(notifiers.map((n) => n.stop()));
      await hl7?.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
