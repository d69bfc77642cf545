import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { permanentError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import { newCorrelationId } from '../../observability/correlation.ts';
import type { Logger } from '../../observability/logger.ts';
import { checkClientCertificate, type CertificateVerdict } from './client-certificates.ts';
import type { X12PartnerProfile } from './partner-profile.ts';
import { receiveX12, X12_CONTENT_TYPE, type ReceiveX12Options } from './receive.ts';

/**
 * X12 over HTTP: `POST /x12/:partner` with the interchange as the raw body. The answer is sent only after the
 * interchange is stored (receiveX12): 200 `application/edi-x12` with the TA1/997/999, 204 when there is
 * nothing to acknowledge (an inbound 997 without ISA14 = 1), 400 for input that is not X12 (stored as
 * rejected), 413 for a body over the limit (its start stored as rejected), 503 with Retry-After when it could
 * not be stored — never a 2xx for an interchange that is not committed (DESIGN.md principle 1). 403 before the
 * body is read when the client certificate is not the partner's (`x12.partners[].tls`): nothing is stored, the
 * refusal is logged with the certificate's fingerprint only.
 */

export interface X12HttpOptions extends Omit<ReceiveX12Options, 'partnerId'> {
  profiles: readonly X12PartnerProfile[];
  sink: InboundSink;
  /** default 10 MiB */
  maxBodyBytes?: number;
  /**
   * A verified client certificate posting to a partner that declares none (`x12.partners[].tls`): 'refuse'
   * (default; the production profile) or 'accept' (demo: any certificate from the CA, with a warning at start).
   */
  unboundPartners?: 'accept' | 'refuse' | undefined;
  /** where refused certificates are reported (warn); without it they are only answered */
  log?: Logger | undefined;
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
    const verdict = checkClientCertificate(options.profiles, partnerId, verifiedPeerCertificate(req), options.unboundPartners ?? 'refuse');
    if (!verdict.allowed) return refuse(verdict, partnerId, req, res, options.log);
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

/** The client certificate the handshake verified against the listener's CA; none on plain HTTP or without one. */
function verifiedPeerCertificate(req: http.IncomingMessage) {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate();
  // an empty object when the peer sent none
  return certificate.fingerprint256 ? certificate : undefined;
}

const REFUSALS = {
  no_certificate: (partner: string) => `forbidden: partner ${partner} posts with its client certificate only, and none was presented`,
  mismatch: (partner: string, fingerprint: string) => `forbidden: the client certificate (sha256 ${fingerprint}) does not match partner ${partner}`,
  unbound: (partner: string, fingerprint: string) => `forbidden: no client certificate is bound to partner ${partner}; the client certificate (sha256 ${fingerprint}) is refused`,
};

/**
 * Refused before the body is looked at, so nothing of it can be stored or logged. What has arrived is drained
 * and dropped (unread bytes would make the close reset the socket before the client reads the 403); the
 * connection is closed after the answer, so a large body is not taken in to its end.
 */
function refuse(verdict: Extract<CertificateVerdict, { allowed: false }>, partnerId: string, req: http.IncomingMessage, res: http.ServerResponse, log: Logger | undefined): void {
  const fingerprint = verdict.fingerprint ?? '';
  log?.warn(
    { partner: partnerId, reason: verdict.reason, fingerprint: verdict.fingerprint, boundTo: verdict.boundTo, remote: req.socket.remoteAddress },
    'x12 POST refused: the client certificate is not bound to this partner',
  );
  req.resume();
  res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${REFUSALS[verdict.reason](partnerId, fingerprint)}\n`);
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
 * Which partner a certificate may post as is each profile's `tls` binding (client-certificates.ts).
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
  if (mutual && options.unboundPartners === 'accept') {
    const unbound = options.profiles.filter((p) => !p.tls).map((p) => p.id);
    if (unbound.length > 0) options.log?.warn({ partners: unbound }, 'x12 mutual TLS: these partners declare no client certificate (x12.partners[].tls), so any certificate from x12.http.tls.ca can post as them');
  }
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
