// The sending EHR of the MLLP bench, in its own process as a real sender is: argv = host port connections
// count offset. Prints one JSON line: { seconds, sent, refused } measured from the first send to the last ACK.
import { adtA01 } from './hl7-sample.ts';
import { MllpSender } from './mllp-sender.ts';

const [host = '127.0.0.1', port = '0', connections = '1', count = '0', offset = '0'] = process.argv.slice(2);
const senders = await Promise.all(Array.from({ length: Number(connections) }, () => MllpSender.connect(host, Number(port))));
const perConnection = Math.ceil(Number(count) / senders.length);
let refused = 0;
const started = performance.now();
await Promise.all(
  senders.map(async (sender, c) => {
    for (let i = 0; i < perConnection; i++) {
      const ack = await sender.send(adtA01(Number(offset) + c * perConnection + i));
      // MSA-1 AA (original mode) or CA (enhanced mode) is the receiver's "stored, you may forget it".
      if (!/\rMSA\|(AA|CA)\|/.test(`\r${ack}`)) refused++;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
await Promise.all(senders.map((s) => s.close()));
process.stdout.write(`${JSON.stringify({ seconds, sent: perConnection * senders.length, refused })}\n`);
