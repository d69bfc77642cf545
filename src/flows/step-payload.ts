import { permanentError } from '../contracts/errors.ts';

/** A step's payload comes from a flow: a malformed one is a bug there, refused with the field named. */
export function payloadOf<T>(payload: unknown, action: string, required: readonly string[]): T {
  if (typeof payload !== 'object' || payload === null) throw permanentError(`${action}: payload must be an object`, { code: 'flow_bad_payload', where: { field: 'payload' } });
  for (const name of required) if (!(name in payload)) throw permanentError(`${action}: payload.${name} is missing`, { code: 'flow_bad_payload', where: { field: `payload.${name}` } });
  return payload as T;
}

/** Flow modes that write canonical events to the outbox in each step's transaction (docs/flows.md "Modes"). */
export const publishesEvents = (mode: string): boolean => mode === 'event-driven' || mode === 'hybrid';
