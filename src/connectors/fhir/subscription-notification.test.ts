import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { missedEventNumbers, parseSubscriptionNotification } from './subscription-notification.ts';

// Bundles built after the Subscriptions R5 Backport IG (STU 1.1) examples: "R4 Notification: Handshake",
// "R4 Notification: Heartbeat", "R4 Notification: Id Only" / "Full Resource", and their R4B counterparts.

const SUBSCRIPTION = 'https://example.org/fhir/Subscription/admission';
const TOPIC = 'http://hl7.org/SubscriptionTopic/admission';

function r4Bundle(type: string, extra: object[] = [], entries: object[] = []): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: '2020-05-29T11:44:13.1882432-05:00',
    entry: [
      {
        fullUrl: 'urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400',
        resource: {
          resourceType: 'Parameters',
          meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
          parameter: [
            { name: 'subscription', valueReference: { reference: SUBSCRIPTION } },
            { name: 'topic', valueCanonical: TOPIC },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: type },
            ...extra,
          ],
        },
        request: { method: 'GET', url: `${SUBSCRIPTION}/$status` },
        response: { status: '200' },
      },
      ...entries,
    ],
  } as Bundle;
}

describe('R4 backport (Parameters) notifications', () => {
  it('reads a handshake', () => {
    const n = parseSubscriptionNotification(r4Bundle('handshake', [{ name: 'events-since-subscription-start', valueString: '0' }]));
    expect(n).toMatchObject({ format: 'r4-parameters', subscription: SUBSCRIPTION, topic: TOPIC, status: 'active', type: 'handshake', eventsSinceSubscriptionStart: 0, events: [] });
  });

  it('reads a heartbeat and finds the events it reveals as missed', () => {
    const n = parseSubscriptionNotification(r4Bundle('heartbeat', [{ name: 'events-since-subscription-start', valueString: '5' }]));
    expect(n.type).toBe('heartbeat');
    expect(missedEventNumbers(n, 3)).toEqual([4, 5]);
    expect(missedEventNumbers(n, 5)).toEqual([]);
  });

  it('reads an event-notification: event number, timestamp, focus, additional context, and the full resource', () => {
    const n = parseSubscriptionNotification(
      r4Bundle(
        'event-notification',
        [
          { name: 'events-since-subscription-start', valueString: '2' },
          {
            name: 'notification-event',
            part: [
              { name: 'event-number', valueString: '2' },
              { name: 'timestamp', valueInstant: '2020-05-29T11:44:13.1882432-05:00' },
              { name: 'focus', valueReference: { reference: 'https://example.org/fhir/Encounter/86009987-eabe-42bf-8c02-b112b18cb616' } },
              { name: 'additional-context', valueReference: { reference: 'https://example.org/fhir/Patient/example' } },
            ],
          },
        ],
        [
          {
            fullUrl: 'https://example.org/fhir/Encounter/86009987-eabe-42bf-8c02-b112b18cb616',
            resource: { resourceType: 'Encounter', id: '86009987-eabe-42bf-8c02-b112b18cb616', status: 'in-progress', class: { code: 'IMP' } },
            request: { method: 'POST', url: 'Encounter' },
            response: { status: '201' },
          },
        ],
      ),
    );
    expect(n.eventsSinceSubscriptionStart).toBe(2);
    expect(n.events).toEqual([
      {
        eventNumber: 2,
        timestamp: '2020-05-29T11:44:13.1882432-05:00',
        focus: 'https://example.org/fhir/Encounter/86009987-eabe-42bf-8c02-b112b18cb616',
        additionalContext: ['https://example.org/fhir/Patient/example'],
        resource: expect.objectContaining({ resourceType: 'Encounter', id: '86009987-eabe-42bf-8c02-b112b18cb616' }),
      },
    ]);
    expect(n.resources).toHaveLength(1);
    expect(missedEventNumbers(n, 0)).toEqual([1]);
  });

  it('reads an empty-payload event-notification (no notification-event)', () => {
    const n = parseSubscriptionNotification(r4Bundle('event-notification', [{ name: 'events-since-subscription-start', valueString: '7' }]));
    expect(n.events).toEqual([]);
    expect(missedEventNumbers(n, 5)).toEqual([6]);
  });

  it('collects error parameters of a subscription in error', () => {
    const bundle = r4Bundle('heartbeat', [{ name: 'error', valueCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscription-error', code: 'no-response' }] } }]);
    expect(parseSubscriptionNotification(bundle).errors).toEqual([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscription-error', code: 'no-response' }] }]);
  });

  it('refuses a notification without the subscription, with the parameter path', () => {
    const bundle = r4Bundle('heartbeat');
    const parameters = bundle.entry![0]!.resource as { parameter: Array<{ name: string }> };
    parameters.parameter = parameters.parameter.filter((p) => p.name !== 'subscription');
    expect(() => parseSubscriptionNotification(bundle)).toThrow(expect.objectContaining({ failureClass: 'permanent', where: { field: "Bundle.entry[0].resource.parameter.where(name='subscription')" } }));
  });

  it('refuses an unknown notification type and a non-numeric event count', () => {
    expect(() => parseSubscriptionNotification(r4Bundle('ping'))).toThrow(expect.objectContaining({ where: { field: 'Bundle.entry[0].resource.type' } }));
    expect(() => parseSubscriptionNotification(r4Bundle('heartbeat', [{ name: 'events-since-subscription-start', valueString: 'two' }]))).toThrow(/not an event count/);
  });
});

describe('R4B SubscriptionStatus notifications', () => {
  const r4b = (status: object): unknown => ({
    resourceType: 'Bundle',
    type: 'history',
    entry: [{ fullUrl: 'urn:uuid:1', resource: { resourceType: 'SubscriptionStatus', subscription: { reference: SUBSCRIPTION }, topic: TOPIC, ...status } }],
  });

  it('reads an event-notification with its notificationEvent', () => {
    const n = parseSubscriptionNotification(
      r4b({ status: 'active', type: 'event-notification', eventsSinceSubscriptionStart: '3', notificationEvent: [{ eventNumber: '3', focus: { reference: 'SupplyRequest/1' } }] }),
    );
    expect(n).toMatchObject({ format: 'r4b-subscription-status', type: 'event-notification', eventsSinceSubscriptionStart: 3, events: [{ eventNumber: 3, focus: 'SupplyRequest/1', additionalContext: [] }] });
  });

  it('reads a handshake', () => {
    expect(parseSubscriptionNotification(r4b({ status: 'requested', type: 'handshake' }))).toMatchObject({ status: 'requested', type: 'handshake' });
  });
});

describe('not a notification', () => {
  it('refuses a Bundle that is not of type history, and a first entry that is not a status', () => {
    expect(() => parseSubscriptionNotification({ resourceType: 'Bundle', type: 'searchset' })).toThrow(expect.objectContaining({ where: { field: 'Bundle.type' } }));
    expect(() => parseSubscriptionNotification({ resourceType: 'Bundle', type: 'history', entry: [{ resource: { resourceType: 'Patient' } }] })).toThrow(
      expect.objectContaining({ where: { field: 'Bundle.entry[0].resource.resourceType' } }),
    );
    expect(() => parseSubscriptionNotification({ resourceType: 'Bundle', type: 'history', entry: [] })).toThrow(expect.objectContaining({ code: 'fhir_invalid_notification' }));
    expect(() => parseSubscriptionNotification('x')).toThrow(expect.objectContaining({ code: 'fhir_invalid_notification' }));
  });
});

describe('malformed notification shapes (found by fuzzing)', () => {
  it('answers a located fhir_invalid_notification instead of a TypeError', async () => {
    const { parseSubscriptionNotification } = await import('./subscription-notification.ts');
    for (const parameter of ['x', [null], [{ name: 'notification-event', part: 'nope' }]]) {
      const bundle = { resourceType: 'Bundle', type: 'history', entry: [{ resource: { resourceType: 'Parameters', parameter } }] };
      let caught: unknown;
      try {
        parseSubscriptionNotification(bundle);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: 'fhir_invalid_notification' });
      expect((caught as { where?: { field?: string } }).where?.field).toMatch(/parameter/);
    }
  });
});
