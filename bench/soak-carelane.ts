import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { startCarelane } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';

/**
 * Carelane's side of the soak, in a process of its own so its memory is measured without the simulators':
 * the same composition root `carelane --config <file> start` runs, on the config file given, answering the
 * soak's requests over IPC. `sample`: a full GC (the soak forks this with --expose-gc) then RSS, heap and
 * event-loop lag; `stop`: stop as on SIGTERM.
 */

export interface CarelaneReady {
  mllpPort: number;
  fhirUrl: string;
  httpUrl: string;
}

export interface CarelaneMemory {
  rssBytes: number;
  heapUsedBytes: number;
  /** what V8 holds from the system for its heap (used or not): RSS can grow with it while used stays flat */
  heapCommittedBytes: number;
  /** memory outside V8's heap held by JS objects (Buffers, ArrayBuffers): sockets, pg, TLS */
  externalBytes: number;
  /** resident memory of the C allocator (glibc's main heap and its per-thread arenas); undefined off Linux */
  mallocResidentBytes: number | undefined;
  eventLoopLagMs: number;
}

export type SoakRequest = { op: 'sample' } | { op: 'stop' };
export type SoakReply = { ready: CarelaneReady } | { sample: CarelaneMemory } | { stopped: true } | { failed: string };

const send = (reply: SoakReply) => process.send!(reply);
const gc = (globalThis as { gc?: () => void }).gc;

async function eventLoopLag(): Promise<number> {
  const start = performance.now();
  await new Promise((resolve) => setImmediate(resolve));
  return performance.now() - start;
}

const ARENA_ALIGNMENT = 64 * 1024 * 1024;

/**
 * glibc's share of RSS, read from /proc/self/smaps: the `[heap]` mapping (main arena) and the anonymous mappings
 * at 64 MiB-aligned addresses, where glibc places the arenas it makes for threads (HEAP_MAX_SIZE on 64-bit). V8
 * maps its pages itself (256 KiB, not so aligned), so RSS minus this minus the committed heap is mostly code.
 */
function mallocResident(): number | undefined {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
  let total = 0;
  let counting = false;
  for (const line of smaps.split('\n')) {
    const mapping = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[2]!;
      counting = name === '[heap]' || (name === '' && Number.parseInt(mapping[1]!, 16) % ARENA_ALIGNMENT === 0 && Number.parseInt(mapping[1]!, 16) > 2 ** 46);
    } else if (counting && line.startsWith('Rss:')) {
      total += Number(line.split(/\s+/)[1]) * 1024;
    }
  }
  return total;
}

try {
  const carelane = await startCarelane(loadConfig(process.argv[2], process.env), { announce: () => {} });
  if (carelane.mllpPort === undefined || carelane.fhirUrl === undefined) throw new Error('the soak needs the MLLP and FHIR listeners enabled');
  process.on('message', (request: SoakRequest) => {
    if (request.op === 'sample') {
      void eventLoopLag().then((lag) => {
        gc?.();
        const heap = v8.getHeapStatistics();
        const memory = process.memoryUsage();
        send({ sample: { rssBytes: memory.rss, heapUsedBytes: heap.used_heap_size, heapCommittedBytes: heap.total_heap_size, externalBytes: memory.external, mallocResidentBytes: mallocResident(), eventLoopLagMs: lag } });
      });
    } else if (request.op === 'stop') {
      void carelane.stop().finally(() => {
        send({ stopped: true });
        process.disconnect();
      });
    }
  });
  send({ ready: { mllpPort: carelane.mllpPort, fhirUrl: carelane.fhirUrl, httpUrl: carelane.httpUrl } });
} catch (error) {
  send({ failed: (error as Error).stack ?? String(error) });
  process.exitCode = 1;
  process.disconnect();
}
