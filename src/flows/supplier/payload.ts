// The step-payload check every flow shares.
export { payloadOf } from '../step-payload.ts';
