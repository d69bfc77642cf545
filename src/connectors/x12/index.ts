// The X12 connector's door: read (tolerant tokenizer, envelopes, syntax), map to canonical, write 850 and
// acknowledgments, and number outbound envelopes per partner. Transports come later (see the report of #5).
export { tokenizeX12, readDelimiters, decodeX12, type X12Delimiters, type X12Segment, type TokenizedInterchange } from './tokenizer.ts';
export { readX12, allIssues, type X12Document, type Interchange, type InterchangeHeader, type FunctionalGroup, type GroupHeader, type TransactionSet } from './envelope.ts';
export { issueToError, type X12Issue, type X12IssueLevel, type X12ErrorCode } from './issues.ts';
export { toCanonical, parseX12, SUPPORTED_TRANSACTION_SETS, type ParsedTransaction } from './to-canonical.ts';
export { lineStatusOf } from './map-purchase-order.ts';
export type * from './canonical.ts';
export { generate850, type OutboundPurchaseOrder, type OutboundPurchaseOrderLine, type Generated850 } from './generate-850.ts';
export { buildFunctionalAck, writeFunctionalAcks, functionalAckKindFor, buildTa1, writeTa1Interchange, type FunctionalAckKind, type FunctionalAckResult, type Ta1Result } from './acknowledgments.ts';
export { writeInterchange, writeSegment, transactionSet, defaultDelimiters, type EnvelopeOptions, type PartyId } from './writer.ts';
export { nextControlNumber, nextEnvelopeNumbers, lastControlNumber, type ControlNumberKind } from './control-numbers.ts';
