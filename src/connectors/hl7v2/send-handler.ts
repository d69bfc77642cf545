import { CarelaneError, ambiguousError, permanentError, transientError } from '../../contracts/errors.ts';
import type { ClaimedDelivery, DeliveryHandler } from '../../engine/handlers.ts';
import { Hl7Message } from './hl7-message.ts';
import { readMessageHeader } from './message-header.ts';
import { MllpClient, type MllpClientOptions } from './mllp-client.ts';
import { HL7_ORDER_STATUS_CODES, controlIdFor, orderStatusMessage, type Hl7OrderStatusUpdate, type Hl7SenderIdentity } from './order-status.ts';

/**
 * `hl7v2.send`: an HL7 v2 message to an EHR over MLLP (HL7 v2.5.1 Appendix C), judged by its acknowledgment
 * (chapter 2, 2.9): AA (original mode) or CA (enhanced mode accept) = done; AE/AR = permanent, with the
 * receiver's ERR text; CE = transient (the receiver could not accept it now); CR = permanent; no answer =
 * ambiguous. There is no way to ask an MLLP peer whether a message arrived, so there is no `lookup`: a retry
 * resends with the same MSH-10 (built from the idempotency key) and the receiver's duplicate detection (2.9.2)
 * answers without processing it twice.
 */

/** A configured MLLP destination (carelane.yaml `hl7v2.destinations.<name>`). */
export interface Hl7DestinationSettings extends Hl7SenderIdentity {
  host: string;
  port: number;
  responseTimeoutMs: number;
  connectTimeoutMs: number;
  tls?: MllpClientOptions['tls'];
}

/**
 * Payload of `hl7v2.send`: an order status Carelane builds (ORM^O01, ORC-1 SC), or a whole message a flow built
 * itself (its MSH-10 must then be stable across retries: use controlIdFor(key)).
 */
export type Hl7SendPayload = { orderStatus: Hl7OrderStatusUpdate } | { message: string };

/** One connection per destination, one message at a time on it: MLLP pairs answers with messages by order only. */
class Hl7Destination {
  private readonly settings: Hl7DestinationSettings;
  private client: MllpClient | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(settings: Hl7DestinationSettings) {
    this.settings = settings;
  }

  send(text: string, signal: AbortSignal): Promise<string> {
    const turn = this.chain.then(() => this.exchange(text, signal));
    this.chain = turn.catch(() => {});
    return turn;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = undefined;
  }

  private async exchange(text: string, signal: AbortSignal): Promise<string> {
    if (signal.aborted) throw transientError('hl7v2.send: attempt aborted before sending', { code: 'hl7_send_aborted' });
    const { host, port, responseTimeoutMs, connectTimeoutMs, tls } = this.settings;
    // A connection the peer closed while idle is replaced before sending: nothing was sent on it, so no doubt.
    if (this.client && !this.client.isOpen) await this.reset(this.client);
    this.client ??= await MllpClient.connect(host, port, { responseTimeoutMs, connectTimeoutMs, ...(tls ? { tls } : {}) });
    const client = this.client;
    // The engine gave up on this attempt: drop the connection, so a late answer is never paired with the next message.
    const onAbort = () => void this.reset(client);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await client.send(text);
    } catch (error) {
      await this.reset(client);
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async reset(client: MllpClient): Promise<void> {
    if (this.client === client) this.client = undefined;
    await client.close();
  }
}

export interface Hl7SendHandler extends DeliveryHandler {
  /** closes every destination's connection (engine stop) */
  close(): Promise<void>;
}

export function hl7SendHandler(destinations: Record<string, Hl7DestinationSettings>): Hl7SendHandler {
  const open = new Map<string, Hl7Destination>();
  const destination = (endpoint: string): { settings: Hl7DestinationSettings; connection: Hl7Destination } => {
    const settings = destinations[endpoint];
    if (!settings) throw permanentError(`no HL7 v2 destination named "${endpoint}" in carelane.yaml`, { code: 'hl7_destination_unknown', where: { field: `hl7v2.destinations.${endpoint}` } });
    let connection = open.get(endpoint);
    if (!connection) open.set(endpoint, (connection = new Hl7Destination(settings)));
    return { settings, connection };
  };
  return {
    action: 'hl7v2.send',
    async run(delivery, context) {
      const { settings, connection } = destination(delivery.endpoint);
      const { text, controlId, messageType } = messageOf(delivery, settings);
      const ack = await connection.send(text, context.signal);
      const verdict = judgeAck(ack, controlId);
      return { stages: [{ stage: `hl7v2.send to ${delivery.endpoint}`, outcome: 'ok', detail: { messageType, controlId, ack: verdict.code } }] };
    },
    async close() {
      await Promise.all([...open.values()].map((c) => c.close()));
      open.clear();
    },
  };
}

function messageOf(delivery: ClaimedDelivery, settings: Hl7DestinationSettings): { text: string; controlId: string; messageType: string } {
  const payload = delivery.payload as Partial<Record<'orderStatus' | 'message', unknown>> | null;
  if (typeof payload !== 'object' || payload === null) throw badPayload('payload must be an object', 'payload');
  if (typeof payload.message === 'string') {
    const reading = readMessageHeader(payload.message);
    if (!reading.ok) throw badPayload(`payload.message is not an HL7 v2 message: ${reading.error.message}`, 'payload.message');
    return { text: payload.message, controlId: reading.header.controlId, messageType: reading.header.messageType };
  }
  const update = payload.orderStatus as Partial<Hl7OrderStatusUpdate> | undefined;
  if (typeof update !== 'object' || update === null) throw badPayload('payload needs orderStatus or message', 'payload.orderStatus');
  if (typeof update.placerOrderNumber !== 'string' || !update.placerOrderNumber) throw badPayload('payload.orderStatus.placerOrderNumber is missing', 'payload.orderStatus.placerOrderNumber');
  if (!HL7_ORDER_STATUS_CODES.includes(update.orderStatus as never)) {
    throw badPayload(`payload.orderStatus.orderStatus ${JSON.stringify(update.orderStatus)} is not an HL7 table 0038 code (${HL7_ORDER_STATUS_CODES.join(', ')})`, 'payload.orderStatus.orderStatus');
  }
  const controlId = controlIdFor(delivery.idempotencyKey);
  return { text: orderStatusMessage(update as Hl7OrderStatusUpdate, settings, controlId), controlId, messageType: 'ORM^O01' };
}

const badPayload = (message: string, field: string) => permanentError(`hl7v2.send: ${message}`, { code: 'hl7_bad_payload', where: { field } });

/** What an acknowledgment says, as a verdict: returns for AA/CA, throws the class the code stands for otherwise. */
export function judgeAck(ack: string, controlId: string): { code: 'AA' | 'CA' } {
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(ack);
  } catch (error) {
    // Something answered, but not an ACK we can read: whether it took the message is unknown.
    throw ambiguousError(`the answer to ${controlId} is not a readable HL7 acknowledgment: ${(error as Error).message}`, { code: 'hl7_unreadable_ack', cause: error });
  }
  const msa = message.segment('MSA');
  if (!msa) throw ambiguousError(`the answer to ${controlId} has no MSA segment`, { code: 'hl7_unreadable_ack' });
  const code = message.get(msa, 1);
  const answered = message.get(msa, 2);
  if (answered && answered !== controlId) {
    // MSA-2 names another message: the answers are out of step with what we sent; ours may or may not have landed.
    throw ambiguousError(`the acknowledgment names message ${answered}, not ${controlId}`, { code: 'hl7_ack_mismatch' });
  }
  if (code === 'AA' || code === 'CA') return { code };
  const reason = errText(message) || `no reason given (MSA-1 ${code})`;
  const where = errLocation(message);
  const options = { code: `hl7_ack_${code.toLowerCase() || 'unknown'}`, ...(where ? { where } : {}), detail: { ackCode: code } };
  if (code === 'CE') throw transientError(`the receiver could not accept ${controlId} now (CE): ${reason}`, options);
  if (code === 'AE' || code === 'AR' || code === 'CR') throw permanentError(`the receiver answered ${controlId} with ${code}: ${reason}`, options);
  throw ambiguousError(`the acknowledgment of ${controlId} has an unknown MSA-1 code ${JSON.stringify(code)}`, { code: 'hl7_unreadable_ack' });
}

/** ERR-8 user message, ERR-3.2 code text (v2.5+), ERR-1.4.2 (before v2.5), MSA-3 text message (before v2.7). */
function errText(message: Hl7Message): string {
  const parts: string[] = [];
  for (const err of message.segmentsNamed('ERR')) {
    const text = message.get(err, 8) || message.get(err, 7) || message.get(err, 3, 2) || message.get(err, 1, 4, 2);
    if (text) parts.push(text);
  }
  const msa = message.segment('MSA');
  const msaText = msa ? message.get(msa, 3) : '';
  if (msaText && !parts.includes(msaText)) parts.push(msaText);
  return parts.join('; ');
}

/** ERR-2 (ERL: segment ^ sequence ^ field) of the first ERR, as an error location. */
function errLocation(message: Hl7Message): CarelaneError['where'] {
  const err = message.segment('ERR');
  if (!err) return undefined;
  const segment = message.get(err, 2, 1) || message.get(err, 1, 1);
  const position = message.get(err, 2, 3) || message.get(err, 1, 3);
  if (!segment) return undefined;
  return { segment, ...(position ? { field: `${segment}.${position}` } : {}) };
}
