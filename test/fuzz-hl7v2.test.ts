import { describe, it } from 'vitest';
import { runFuzzTarget } from '../bench/fuzz.ts';

// Property-based fuzzing of the HL7 v2 inbound path (issue 10): the MLLP decoder fed random bytes in random
// chunks, and the MSH reader, Hl7Message and mapHl7Demand on random text and on mutated real messages
// (../shared/realdata/hl7v2). Each property: returns or throws a CarelaneError that says where, within 200 ms a
// case. A few hundred cases here; `node bench/fuzz.ts` runs 100,000 per target. A failure prints fast-check's
// seed and path: replay with FUZZ_SEED=<seed>.

const RUNS = 500;

describe('fuzz: HL7 v2 inbound parsers', () => {
  it('MLLP decoder: any chunking of a byte stream gives the same events, each within its size limits', () => runFuzzTarget('hl7.mllp.chunking', RUNS));
  it('MLLP decoder: framed payloads come back exactly, however the stream is cut', () => runFuzzTarget('hl7.mllp.roundtrip', RUNS));
  it('MSH reader, Hl7Message and mapHl7Demand on random text: a result or a located CarelaneError', () => runFuzzTarget('hl7.text.random', RUNS));
  it('MSH reader, Hl7Message and mapHl7Demand on mutated real messages: a result or a located CarelaneError', () => runFuzzTarget('hl7.text.real-mutated', RUNS));
});
