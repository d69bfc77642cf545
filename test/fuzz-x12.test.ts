import { describe, it } from 'vitest';
import { runFuzzTarget } from '../bench/fuzz.ts';

// Property-based fuzzing of the X12 reader and mappings (issue 10): readX12, toCanonical and parseX12 on random
// bytes, on a well-formed ISA followed by random segments, and on real files (../shared/realdata/x12) with
// segments deleted, duplicated, swapped, truncated, elements changed and delimiters swapped. Property: issues
// say where (segment or line), throws are CarelaneErrors that say where, each case within 200 ms.
// Replay a failure with FUZZ_SEED=<seed printed>.

const RUNS = 500;

describe('fuzz: X12 inbound parser', () => {
  it('random bytes and random segments after a valid ISA: issues or canonical documents, never a crash', () => runFuzzTarget('x12.random', RUNS));
  it('mutated real interchanges: issues or canonical documents, never a crash', () => runFuzzTarget('x12.real-mutated', RUNS));
});
