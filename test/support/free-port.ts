import net from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now, for a listener whose address a peer must know before it starts (a
 * supplier simulator's callback URL into Carelane's X12 or REST listener). Another process may take it in between;
 * tests accept that small race.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
