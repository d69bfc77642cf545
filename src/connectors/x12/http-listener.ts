import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { permanentError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import type { X12PartnerProfile } from './partner-profile.ts';
import { receiveX12, X12_CONTENT_TYPE, type ReceiveX12Options } from './receive.ts';

/**
 * X12 over HTTP: `POST /x12/:partner` with the interchange as the raw body. The answer is sent only after the
 * interchange is stored (receiveX12): 200 `application/edi-x12` with the TA1/997/999, 204 when there is
 * nothing to acknowledge (an inbound 997 without ISA14 = 1), 400 for input that is not X12 (stored as
 * rejected), 413 for a body over the limit (its start stored as rejected), 503 with Retry-After when it could
 * not be stored — never a 2xx for an interchange that is not committed (DESIGN.md principle 1).
 */

export interface X12HttpOptions extends Omit<ReceiveX12Options, 'partnerId'> {
  profiles: readonly X12PartnerProfile[];
  sink: InboundSink;
  /** default 10 MiB */
  maxBodyBytes?: number;
}

const ROUTE = /^\/x12\/([a-z0-9][a-z0-9_-]{0,62})\/?$/;

/** A node:http request listener; mount it in any server (or use startX12HttpListener). */
export function x12RequestListener(options: X12HttpOptions): http.RequestListener {
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  return (req, res) => {
    const match = ROUTE.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!match) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: POST /x12/<partner>\n');
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('method not allowed\n');
    const partnerId = match[1]!;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      void answer(body, size > maxBodyBytes, partnerId, options, res);
    });
  };
}

async function answer(body: Buffer, oversize: boolean, partnerId: string, options: X12HttpOptions, res: http.ServerResponse): Promise<void> {
  const { sink } = options;
  const text = (status: number, message: string, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${message}\n`);
  if (oversize) {
    try {
      // Kept as evidence, cut at the limit, like the MLLP listener keeps an oversize frame.
      const receipt = await sink.accept({ source: `x12:${partnerId}`, messageType: 'X12_unknown', payload: body, contentType: X12_CONTENT_TYPE, correlationId: newCorrelationId(), truncated: true, rejectedReason: `x12_oversize: body exceeds ${options.maxBodyBytes ?? 10 * 1024 * 1024} bytes` });
      res.once('finish', () => sink.acknowledge(receipt.messageId));
      text(413, 'interchange too large');
    } catch {
      text(503, 'not stored, send again', { 'retry-after': '30' });
    }
    return;
  }
  const outcome = await receiveX12(body, options.profiles, sink, { ...options, partnerId });
  switch (outcome.kind) {
    case 'not_stored':
      // The sender must send again: the interchange is not ours yet.
      text(503, `not stored, send again (${outcome.error.code})`, { 'retry-after': '30' });
      return;
    case 'unreadable':
      res.once('finish', () => sink.acknowledge(outcome.messageId));
      text(400, `${outcome.error.code}: ${outcome.error.message}`);
      return;
    case 'answered':
      res.once('finish', () => outcome.interchanges.forEach((i) => sink.acknowledge(i.messageId)));
      if (!outcome.body) res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': X12_CONTENT_TYPE }).end(outcome.body);
  }
}

export interface X12HttpListener {
  host: string;
  port: number;
  /** base URL, e.g. http://127.0.0.1:4100 (https with tls); partners post to `${url}/x12/<partner>` */
  url: string;
  close(): Promise<void>;
}

/**
 * HTTPS for `x12.http.tls`; with requestClientCert only partners presenting a certificate signed by `ca` get to
 * send (mutual TLS, the usual way EDI-over-HTTPS partners authenticate each other); others fail the handshake.
 */
export interface X12ListenerTls {
  cert: Buffer | string;
  key: Buffer | string;
  ca?: Buffer | string | undefined;
  requestClientCert?: boolean | undefined;
}

/** A standalone listener bound to one interface (DESIGN.md: never all interfaces by default). */
export async function startX12HttpListener(options: X12HttpOptions & { host: string; port: number; tls?: X12ListenerTls | undefined }): Promise<X12HttpListener> {
  if (!options.host.trim()) throw permanentError('x12 http host is empty: the listener binds to one configured interface only', { code: 'x12_no_host', where: { field: 'x12.http.host' } });
  const listener = x12RequestListener(options);
  const tls = options.tls;
  const mutual = tls?.requestClientCert === true;
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: mutual, rejectUnauthorized: mutual }, listener) : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    url: `${tls ? 'https' : 'http'}://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
