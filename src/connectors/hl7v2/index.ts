// The HL7 v2 connector's door: what other layers use to receive (and, later, send) HL7 v2 over MLLP.
export { startMllpListener, HL7_V2_CONTENT_TYPE, type MllpListener, type MllpListenerOptions, type Hl7InboundMessage } from './mllp-listener.ts';
export { MllpClient, sendMllp, type MllpClientOptions } from './mllp-client.ts';
export { MllpDecoder, frame, type MllpEvent } from './mllp-framing.ts';
export { parseMessageHeader, readMessageHeader, decodeMessage, type MessageHeader, type PartialMessageHeader, type Hl7Delimiters } from './message-header.ts';
export { splitBatch, buildBatchAck, type SplitBatch, type BatchEnvelope } from './batch.ts';
export { hl7ApplicationAcks, returnAddressFor, type Hl7ReturnAddress, type ApplicationAckOptions } from './application-ack.ts';
export { buildAck, buildApplicationAck, acknowledgmentWanted, ackErrorFrom, escapeHl7Text, HL7_ERROR_CODES, type AckCode, type ApplicationAckCode, type AckError, type AckOutcome, type BuiltAck } from './ack.ts';
export { validateHl7Payload } from './validate-payload.ts';
export type { InboundSink } from '../../contracts/inbound.ts';
export { Hl7Message, decodeEscapes, hl7DateTimeToIso } from './hl7-message.ts';
export { mapHl7Demand, SUPPORTED_HL7_DEMAND_TYPES } from './map-demand.ts';
export { hl7SendHandler, judgeAck, type Hl7SendHandler, type Hl7SendPayload, type Hl7DestinationSettings } from './send-handler.ts';
export { orderStatusMessage, controlIdFor, outboundHeader, HL7_ORDER_STATUS_CODES, type Hl7OrderStatusUpdate, type Hl7OrderStatusCode, type Hl7SenderIdentity } from './order-status.ts';
