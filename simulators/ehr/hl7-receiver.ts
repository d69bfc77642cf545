import net from 'node:net';
import { buildAck, type AckOutcome } from '../../src/connectors/hl7v2/ack.ts';
import { readMessageHeader } from '../../src/connectors/hl7v2/message-header.ts';
import { MllpDecoder, frame } from '../../src/connectors/hl7v2/mllp-framing.ts';

/**
 * The simulated EHR's inbound HL7 v2 interface: an MLLP receiver (HL7 v2.5.1 Appendix C) that takes the status
 * messages Carelane writes back and answers each with an ACK as an EHR interface engine does (chapter 2, 2.9):
 * AA in original mode, CA when the sender asked for enhanced mode (MSH-15), the ACK of the first copy for a
 * duplicate MSH-10 (2.9.2: a receiver recognises a resent message by its control id and does not process it
 * twice). Faults: 'AE' and 'AR' answer every message negatively with an ERR saying why, 'silent' reads and
 * never answers (the sender's timeout), 'close' drops the connection on receipt.
 */

export type Hl7ReceiverFault = 'none' | 'AE' | 'AR' | 'silent' | 'close';

export interface ReceivedHl7 {
  controlId: string;
  messageType: string;
  text: string;
  /** MSA-1 of the answer, '' when none was sent */
  answered: string;
  duplicate: boolean;
  /** the EHR took this copy in (first copy, accepted), whether or not its answer reached the sender */
  accepted: boolean;
}

export interface Hl7Receiver {
  host: string;
  port: number;
  /** every message read, duplicates included, in arrival order */
  received: ReceivedHl7[];
  /** the first accepted copy of each control id: what the EHR processed (a 'silent' one too: only its answer was lost) */
  processed(): ReceivedHl7[];
  setFault(fault: Hl7ReceiverFault): void;
  close(): Promise<void>;
}

export async function startHl7Receiver(options: { host?: string; port?: number; fault?: Hl7ReceiverFault } = {}): Promise<Hl7Receiver> {
  let fault: Hl7ReceiverFault = options.fault ?? 'none';
  const received: ReceivedHl7[] = [];
  const acks = new Map<string, string>();
  const sockets = new Set<net.Socket>();

  const answer = (text: string): { ack: string | undefined; code: string; duplicate: boolean; accepted: boolean; controlId: string; messageType: string } => {
    const reading = readMessageHeader(text);
    const header = reading.ok ? reading.header : reading.partial;
    const controlId = header?.controlId ?? '';
    const messageType = header?.messageType ?? '';
    const earlier = controlId ? acks.get(controlId) : undefined;
    if (earlier !== undefined) return { ack: earlier, code: msaCode(earlier), duplicate: true, accepted: false, controlId, messageType };
    let outcome: AckOutcome = 'accept';
    let error;
    if (!reading.ok) {
      outcome = 'reject';
      error = { hl7ErrorCode: 100 as const, text: reading.error.message, where: reading.error.where };
    } else if (fault === 'AE') {
      outcome = 'error';
      error = { hl7ErrorCode: 207 as const, text: 'simulated application error: order status not recorded', where: { segment: 'ORC', field: 'ORC.2' } };
    } else if (fault === 'AR') {
      outcome = 'reject';
      error = { hl7ErrorCode: 200 as const, text: `simulated reject: ${messageType} is not accepted on this interface`, where: { segment: 'MSH', field: 'MSH.9' } };
    }
    const ack = buildAck(header, outcome, error, { applicationName: 'SIMEHR' });
    // Only an accepted message was processed; an AE/AR'd one may be sent again and gets a fresh verdict.
    if (ack.send && outcome === 'accept' && controlId) acks.set(controlId, ack.text);
    return { ack: ack.send ? ack.text : undefined, code: ack.send ? ack.code : '', duplicate: false, accepted: outcome === 'accept', controlId, messageType };
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new MllpDecoder({ maxMessageBytes: 1024 * 1024 });
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.type !== 'frame') continue;
        const text = event.payload.toString('utf8');
        if (fault === 'close') {
          const reading = readMessageHeader(text);
          received.push({ controlId: reading.ok ? reading.header.controlId : '', messageType: reading.ok ? reading.header.messageType : '', text, answered: '', duplicate: false, accepted: false });
          socket.destroy();
          return;
        }
        const reply = answer(text);
        const silent = fault === 'silent';
        received.push({ controlId: reply.controlId, messageType: reply.messageType, text, answered: silent ? '' : reply.code, duplicate: reply.duplicate, accepted: reply.accepted });
        if (!silent && reply.ack) socket.write(frame(Buffer.from(reply.ack, 'utf8')));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: address.address,
    port: address.port,
    received,
    processed: () => received.filter((r) => r.accepted),
    setFault: (next) => {
      fault = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function msaCode(ack: string): string {
  return ack.split('\r').find((segment) => segment.startsWith('MSA'))?.split(/[|]/)[1] ?? '';
}
