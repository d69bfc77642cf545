// The X12 connector's door: read (tolerant tokenizer, envelopes, syntax), map to canonical, write 850 and
// acknowledgments, number outbound envelopes per partner, receive over HTTP (persist, then TA1/997/999), send 850s.
export { tokenizeX12, readDelimiters, decodeX12, type X12Delimiters, type X12Segment, type TokenizedInterchange } from './tokenizer.ts';
export { readX12, allIssues, type X12Document, type ReceivedTa1, type Interchange, type InterchangeHeader, type FunctionalGroup, type GroupHeader, type TransactionSet } from './envelope.ts';
export { issueToError, type X12Issue, type X12IssueLevel, type X12ErrorCode } from './issues.ts';
export { toCanonical, parseX12, SUPPORTED_TRANSACTION_SETS, type ParsedTransaction } from './to-canonical.ts';
export { lineStatusOf } from './map-purchase-order.ts';
export type * from './canonical.ts';
export { generate850, type OutboundPurchaseOrder, type OutboundPurchaseOrderLine, type Generated850 } from './generate-850.ts';
export { buildFunctionalAck, writeFunctionalAcks, functionalAckKindFor, buildTa1, writeTa1Interchange, type FunctionalAckKind, type FunctionalAckResult, type Ta1Result } from './acknowledgments.ts';
export { writeInterchange, writeSegment, transactionSet, defaultDelimiters, type EnvelopeOptions, type PartyId } from './writer.ts';
export { nextControlNumber, nextEnvelopeNumbers, lastControlNumber, type ControlNumberKind } from './control-numbers.ts';
export { X12PartnerProfileSchema, SftpSettingsSchema, FolderSettingsSchema, parsePartnerProfiles, missingTransportSettings, findPartnerForInterchange, type X12PartnerProfile, type X12PartnerTls, type SftpSettings, type FolderSettings } from './partner-profile.ts';
export { checkClientCertificate, type CertificateVerdict } from './client-certificates.ts';
export { loadStoredInterchange, sameInterchange, x12ReceiveOptions } from './stored-interchange.ts';
export { receiveX12, readFunctionalAcks, X12_CONTENT_TYPE, type ReceiveX12Options, type X12ReceiveOutcome, type StoredInterchange, type ReceivedFunctionalAck, type EnvelopeNumbers } from './receive.ts';
export { x12RequestListener, startX12HttpListener, type X12HttpOptions, type X12HttpListener, type X12ListenerTls } from './http-listener.ts';
export { postX12 } from './http-client.ts';
export { prepareOutbound, findOutbound, markOutboundSent, recordFunctionalAcks, recordInterchangeAcks, overdueAcknowledgments, type OutboundInterchange } from './outbound-ledger.ts';
export { x12Send850Handler, type Send850Payload } from './send-850.ts';
export { pollX12Folder, startX12FolderWatcher, folderWatchOptions, dropX12File, newSettleState, type X12FolderOptions, type X12FolderWatcher, type FolderFileOutcome, type SettleState } from './folder-transport.ts';
export { raiseSupplierDelays, type SupplierDelay } from './supplier-delay.ts';
export { pollX12Sftp, dropX12Sftp, startX12SftpPoller, sftpConnectOptions, sshFingerprint, type X12SftpOptions, type X12SftpPoller } from './sftp-transport.ts';
