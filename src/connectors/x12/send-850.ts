import { permanentError } from '../../contracts/errors.ts';
import type { DeliveryHandler } from '../../engine/handlers.ts';
import { readX12, type ReceivedTa1 } from './envelope.ts';
import { dropX12File } from './folder-transport.ts';
import { generate850, type OutboundPurchaseOrder } from './generate-850.ts';
import { postX12 } from './http-client.ts';
import { findOutbound, markOutboundSent, prepareOutbound, recordFunctionalAcks, recordInterchangeAcks } from './outbound-ledger.ts';
import type { X12PartnerProfile } from './partner-profile.ts';
import { readFunctionalAcks } from './receive.ts';
import { dropX12Sftp } from './sftp-transport.ts';

/** The payload of an `x12.send_850` delivery. */
export interface Send850Payload {
  partner: string;
  purchaseOrder: OutboundPurchaseOrder;
}

/**
 * `x12.send_850`: writes the purchase order as an 850 to the partner of the payload and POSTs it to the
 * partner's endpoint. The interchange is generated once per idempotency key (outbound-ledger.ts), so every
 * attempt sends identical bytes with the same ISA13/GS06/ST02, and X12 partners recognise a re-sent
 * interchange by its ISA13 (X12.5). A 997/999 answered synchronously is recorded right away; an AK9 'R' is
 * permanent (the partner refuses these bytes; sending them again cannot help). `lookup` says 'applied' once a
 * 997/999 for the group arrived (synchronously or later through the X12 listener); until then a retry re-sends
 * the same interchange, which is safe for the reason above. Partners with transport 'folder' get the 850 dropped
 * into their outbound folder (profile endpoint) instead.
 */
export function x12Send850Handler(profiles: readonly X12PartnerProfile[], options: { now?: () => Date } = {}): DeliveryHandler {
  const profileOf = (payload: unknown): { profile: X12PartnerProfile; payload: Send850Payload } => {
    const p = payload as Partial<Send850Payload> | null;
    if (!p?.partner || !p.purchaseOrder) throw permanentError('x12.send_850 payload needs partner and purchaseOrder', { code: 'x12_payload_invalid', where: { field: 'payload' } });
    const profile = profiles.find((candidate) => candidate.id === p.partner);
    if (!profile) throw permanentError(`x12 partner ${p.partner} is not configured`, { code: 'x12_partner_unknown', where: { field: 'payload.partner' } });
    return { profile, payload: p as Send850Payload };
  };
  return {
    action: 'x12.send_850',
    async run(delivery, { pool, signal }) {
      const { profile, payload } = profileOf(delivery.payload);
      const outbound = await prepareOutbound(pool, { idempotencyKey: delivery.idempotencyKey, partner: profile.id, transactionType: '850', functionalId: 'PO' }, (numbers) => {
        const written = generate850(payload.purchaseOrder, {
          sender: { qualifier: profile.ours.qualifier, id: profile.ours.id },
          receiver: { qualifier: profile.theirs.qualifier, id: profile.theirs.id },
          applicationSender: profile.ours.applicationCode,
          applicationReceiver: profile.theirs.applicationCode,
          version: profile.version,
          interchangeControlNumber: numbers.interchange,
          groupControlNumber: numbers.group,
          transactionControlNumber: numbers.transaction,
          usage: profile.usage,
          at: options.now?.() ?? new Date(),
        });
        return { body: written.text, st02: written.transactionControlNumber };
      });
      if (profile.transport === 'folder') {
        // Dropped atomically (tmp + rename) under a name fixed by ISA13: a retry overwrites the same file, never
        // adds a second 850. The 997/999 comes back through the inbound folder (folder-transport.ts).
        const file = await dropX12File(profile.endpoint, `850-${outbound.isa13}.x12`, outbound.body);
        await markOutboundSent(pool, delivery.idempotencyKey);
        return { stages: [{ stage: `x12.send_850 to ${profile.id}`, detail: { file, isa13: outbound.isa13, gs06: outbound.gs06, st02: outbound.st02, poNumber: payload.purchaseOrder.poNumber, ack: 'awaited' } }] };
      }
      if (profile.transport === 'sftp') {
        // Same rule as the folder: a name fixed by ISA13, uploaded under a temporary name and renamed.
        const file = await dropX12Sftp(profile, `850-${outbound.isa13}.x12`, outbound.body);
        await markOutboundSent(pool, delivery.idempotencyKey);
        return { stages: [{ stage: `x12.send_850 to ${profile.id}`, detail: { file, isa13: outbound.isa13, gs06: outbound.gs06, st02: outbound.st02, poNumber: payload.purchaseOrder.poNumber, ack: 'awaited' } }] };
      }
      const response = await postX12({ url: profile.endpoint, body: outbound.body, idempotencyKey: delivery.idempotencyKey, correlationId: delivery.correlationId, signal });
      await markOutboundSent(pool, delivery.idempotencyKey);
      const { acks, ta1s } = synchronousAnswer(response.body);
      const refusedEnvelope = ta1s.find((t) => t.status === 'R' && Number(t.controlNumber) === outbound.isa13);
      if (refusedEnvelope) {
        // The partner refused the envelope itself (X12.5 TA1): no 997/999 will come, and the same bytes would fail again.
        await recordInterchangeAcks(pool, profile.id, [refusedEnvelope]);
        throw permanentError(`partner ${profile.id} refused interchange ${outbound.isa13} with TA1 note code ${refusedEnvelope.noteCode}`, { code: 'x12_rejected_by_partner', where: { segment: 'TA1', field: 'TA105' } });
      }
      if (acks.length > 0) await recordFunctionalAcks(pool, profile.id, acks);
      const ours = acks.find((a) => a.functionalId === 'PO' && Number(a.groupControlNumber) === outbound.gs06);
      if (ours?.status === 'R') {
        throw permanentError(`partner ${profile.id} rejected interchange ${outbound.isa13} (group ${outbound.gs06}) in its ${ours.kind}`, { code: 'x12_rejected_by_partner', where: { segment: 'AK9' } });
      }
      return {
        stages: [{ stage: `x12.send_850 to ${profile.id}`, detail: { status: response.status, isa13: outbound.isa13, gs06: outbound.gs06, st02: outbound.st02, poNumber: payload.purchaseOrder.poNumber, ack: ours ? `${ours.kind} ${ours.status}` : 'awaited' } }],
      };
    },
    async lookup(delivery, { pool }) {
      const outbound = await findOutbound(pool, delivery.idempotencyKey);
      // A 997/999 that arrived later with AK9 'R', or a TA1 'R' for the envelope, is a refusal, not a receipt: the
      // same permanent failure as a synchronous one in run(), so the order is parked for a buyer instead of being
      // marked delivered.
      if (outbound?.acknowledgedAt && outbound.ackStatus === 'R') {
        const byTa1 = outbound.ackKind === 'TA1';
        throw permanentError(`partner ${outbound.partner} rejected interchange ${outbound.isa13} (group ${outbound.gs06}) in its ${byTa1 ? 'TA1' : 'acknowledgment'}`, { code: 'x12_rejected_by_partner', where: { segment: byTa1 ? 'TA1' : 'AK9' } });
      }
      return outbound?.acknowledgedAt ? 'applied' : 'not_applied';
    },
  };
}

/** A 997/999 or TA1 in the HTTP answer, if the partner acknowledges synchronously; anything else is ignored. */
function synchronousAnswer(body: string): { acks: ReturnType<typeof readFunctionalAcks>; ta1s: ReceivedTa1[] } {
  if (!body.trimStart().startsWith('ISA')) return { acks: [], ta1s: [] };
  try {
    const interchanges = readX12(body).interchanges;
    return { acks: interchanges.flatMap(readFunctionalAcks), ta1s: interchanges.flatMap((i) => i.ta1) };
  } catch {
    return { acks: [], ta1s: [] };
  }
}
