import { createHash } from 'node:crypto';
import type pg from 'pg';
import { nextEnvelopeNumbers } from './control-numbers.ts';
import { recordFunctionalAcks, recordInterchangeAcks } from './outbound-ledger.ts';
import type { ReceiveX12Options } from './receive.ts';
import { tokenizeX12 } from './tokenizer.ts';

/**
 * What a duplicate ISA13 is compared with. X12.5: ISA13 with the sender id identifies an interchange, so a copy
 * with the same number and the same content is a retransmission (answered as the first copy was), while the
 * same number on different content is a sender reusing its control numbers: TA1 note code 025 "Duplicate
 * Interchange Control Number". receive.ts decides; this module reads what was stored first.
 */

export interface StoredInterchange {
  /** null once retention purged it (the hash stays) */
  payload: Buffer | null;
  /** sha256 hex of the stored bytes (carelane.messages.content_hash) */
  contentHash: string;
}

export async function loadStoredInterchange(db: Pick<pg.Pool, 'query'>, messageId: number): Promise<StoredInterchange | undefined> {
  const { rows } = await db.query<{ payload: Buffer | null; content_hash: string }>('select payload, content_hash from carelane.messages where id = $1', [messageId]);
  const row = rows[0];
  return row ? { payload: row.payload, contentHash: row.content_hash } : undefined;
}

/**
 * Whether `received` is the interchange stored first: the same segments with the same elements (CR/LF layout
 * between segments is not content; a copy re-sent through another transport may differ there). A purged payload
 * can only be compared byte for byte; unequal bytes then count as different content, since a resend that late
 * with the same number is far likelier a reused number than a retransmission.
 */
export function sameInterchange(received: Buffer, stored: StoredInterchange): boolean {
  if (createHash('sha256').update(received).digest('hex') === stored.contentHash) return true;
  if (!stored.payload) return false;
  return segmentsFingerprint(received) === segmentsFingerprint(stored.payload);
}

function segmentsFingerprint(bytes: Buffer): string {
  const hash = createHash('sha256');
  try {
    for (const interchange of tokenizeX12(bytes)) {
      for (const segment of interchange.segments) hash.update(segment.elements.join('\u001f')).update('\u001e');
      hash.update('\u001d');
    }
  } catch {
    // Not X12 (cannot happen for a copy stored under an ISA13): compare the bytes themselves.
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/** What receiveX12 needs from the database in production: envelope numbers, the outbound ledger (997/999 and TA1), stored copies. */
export function x12ReceiveOptions(db: Pick<pg.Pool, 'query'>): Pick<ReceiveX12Options, 'envelopeNumbers' | 'onFunctionalAcks' | 'onInterchangeAcks' | 'storedInterchange'> {
  return {
    envelopeNumbers: (partner) => nextEnvelopeNumbers(db, partner),
    onFunctionalAcks: async (partner, acks) => void (await recordFunctionalAcks(db, partner.id, acks)),
    onInterchangeAcks: async (partner, ta1s) => void (await recordInterchangeAcks(db, partner.id, ta1s)),
    storedInterchange: (messageId) => loadStoredInterchange(db, messageId),
  };
}
