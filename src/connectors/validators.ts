import { permanentError } from '../contracts/errors.ts';
import { validateHl7Payload } from './hl7v2/index.ts';

/** Checks a stored payload; returns facts for the message's timeline or throws a CarelaneError saying where it is wrong. */
export type PayloadValidator = (payload: Buffer) => Record<string, unknown> | void;

/** Per content type, how the route step checks a stored payload before any flow sees it. */
export const payloadValidators: Record<string, PayloadValidator> = {
  'application/hl7-v2': validateHl7Payload,
  'application/json': (payload) => {
    try {
      JSON.parse(payload.toString('utf8'));
    } catch (error) {
      throw permanentError(`body is not valid JSON: ${(error as Error).message}`, { code: 'invalid_json' });
    }
  },
};
