import { decodeMessage, parseMessageHeader } from './message-header.ts';

/**
 * The route step's check of a stored HL7 v2 message: its header must parse. Returns the header facts worth
 * showing on the message's timeline — never patient data (no PID content).
 */
export function validateHl7Payload(payload: Buffer): Record<string, unknown> {
  const { text, encoding } = decodeMessage(payload);
  const header = parseMessageHeader(text);
  return {
    messageType: header.messageType,
    controlId: header.controlId,
    version: header.version,
    sendingApplication: header.sendingApplication,
    sendingFacility: header.sendingFacility,
    encoding,
  };
}
