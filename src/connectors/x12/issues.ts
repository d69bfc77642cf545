import { permanentError, type CarelaneError } from '../../contracts/errors.ts';

/**
 * What can be wrong with an X12 input, at the level an acknowledgment reports it:
 * interchange (TA1, X12.5 / I18 Interchange Note Code), functional group (AK9 / data element 716),
 * transaction set (AK5/IK5, data element 718), segment (AK3/IK3, data element 720) and element (AK4/IK4, 723).
 * A reader collects issues instead of stopping at the first, so that one pass can answer all of them.
 */
export type X12IssueLevel = 'interchange' | 'group' | 'transaction' | 'segment' | 'element';

export type X12ErrorCode =
  | 'x12_not_edi'
  | 'x12_isa_malformed'
  | 'x12_binary_length_invalid'
  | 'x12_missing_trailer'
  | 'x12_control_number_mismatch'
  | 'x12_control_number_duplicate'
  | 'x12_count_mismatch'
  | 'x12_unexpected_segment'
  | 'x12_segment_missing'
  | 'x12_segment_id_invalid'
  | 'x12_element_missing'
  | 'x12_element_invalid'
  | 'x12_too_many_elements'
  | 'x12_element_relation'
  | 'x12_transaction_unsupported';

export interface X12Issue {
  code: X12ErrorCode;
  level: X12IssueLevel;
  message: string;
  /** the segment id where the problem is, e.g. 'SE' */
  segment: string;
  /** line of the input where that segment starts (1-based; CR, LF and CRLF each end a line) */
  line?: number;
  /** 1-based position of the segment in its transaction set, ST being 1 (AK302/IK302) */
  segmentPosition?: number;
  /** loop identifier of the segment, when it sits in a loop (IK303) */
  loop?: string;
  /** 1-based data element position in the segment (AK401/IK401-1) */
  elementPosition?: number;
  /** 1-based component position in a composite (IK401-2) */
  componentPosition?: number;
  /** a copy of the bad value (AK404/IK404) */
  badValue?: string;
  /**
   * The code an acknowledgment carries for this issue: TA105 (I18) for 'interchange', AK905 (716) for 'group',
   * AK502/IK502 (718) for 'transaction', AK304/IK304 (720) for 'segment', AK403/IK403 (723) for 'element'.
   */
  ackCode: string;
}

/** The first issue as the engine's one error type: permanent (the same bytes will always fail the same way). */
export function issueToError(issue: X12Issue): CarelaneError {
  const field = issue.elementPosition !== undefined ? `${issue.segment}${String(issue.elementPosition).padStart(2, '0')}` : undefined;
  return permanentError(issue.message, {
    code: issue.code,
    where: {
      segment: issue.segment,
      ...(field !== undefined ? { field } : {}),
      ...(issue.line !== undefined ? { line: issue.line } : {}),
      ...(issue.segmentPosition !== undefined ? { position: issue.segmentPosition } : {}),
    },
  });
}
