/**
 * What every listener (MLLP, HTTP, X12, FHIR) hands to the engine, and the engine's promise back. Declared in
 * contracts/ because listeners (connectors) sit below the engine and must not import it.
 */
export interface InboundMessage {
  source: string;
  messageType: string;
  /** the sender's own message id (MSH-10, ...): duplicates are detected on it, else on the content hash */
  externalId?: string | null;
  /** the numbering authority of externalId when one source carries several senders (e.g. MSH-3^MSH-4) */
  dedupeScope?: string | null;
  payload: Buffer;
  contentType: string;
  correlationId: string;
  /** built before persisting, so a duplicate is answered with exactly what the first copy got */
  ackPayload?: string | null;
  /** set when the input is refused: it is stored for inspection and not processed */
  rejectedReason?: string;
  truncated?: boolean;
  /** per-key FIFO for processing; default: the source, so one sender's messages are processed in order */
  orderingKey?: string | null;
}

export interface InboundReceipt {
  messageId: number;
  correlationId: string;
  duplicate: boolean;
  /** for a duplicate: what the first copy was answered */
  ackPayload: string | null;
  status: string;
}

/** Where listeners persist what they receive (the engine's Ingest): answer the sender only after accept resolves. */
export interface InboundSink {
  accept(message: InboundMessage): Promise<InboundReceipt>;
  /** records that the answer was sent (batched, off the critical path) */
  acknowledge(messageId: number): void;
}
