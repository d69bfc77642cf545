import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  readX12,
  toCanonical,
  writeFunctionalAcks,
  writeInterchange,
  type PurchaseOrder,
  type X12PartnerProfile,
} from '../../src/connectors/x12/index.ts';
import type { SegmentValues } from '../../src/connectors/x12/writer.ts';
import { SIGNATURE_HEADER, signBody, verifySignature } from '../../src/connectors/supplier-rest/signature.ts';
import { invoice, purchaseOrderAck, restEvents, shippedLines, shipNotice, type InvoiceVariance, type LotSplit, type SupplierScenario } from './documents.ts';

/**
 * A distributor stand-in (DESIGN.md principle 6: simulators follow the documented behaviour of the system they
 * replace). It behaves like an X12 trading partner over HTTP (AS2-less "EDI over HTTPS" as distributors' VAN
 * gateways offer it):
 * - POST /x12 with an 850 interchange: answered synchronously with the 997 (004010) or 999 (005010) of
 *   the functional group (ASC X12 acknowledgment rules: every received group is acknowledged, an accepted set
 *   is then processed); an interchange seen before (same sender, same ISA13) is a duplicate (X12.5): it gets
 *   the same acknowledgment again and is not processed a second time.
 * - POST /rest/purchase-orders with a JSON purchase order (the REST profile, docs/supplier-rest.md): 202 with a
 *   JSON receipt, 200 for an order it already has (poNumber); with `rest.verifySecret` a bad Carelane-Signature
 *   is 401. GET /rest/purchase-orders/<poNumber> answers 200 or 404. With `rest.callbackUrl`, REST orders are
 *   answered by signed JSON events (acknowledgment, ship notice, invoice) instead of X12.
 * Then, per scenario (by PO-number prefix, else the default): an 855 after `delays.ackMs`, an 856 with lots and
 * expiry after `delays.shipMs`, an 810 (with the configured price/quantity variance) after `delays.invoiceMs`,
 * each POSTed as its own interchange to `callbackUrl` (Carelane's POST /x12/<partner>). Rejected and
 * backordered orders get an 855 only. Faults make it answer like a distributor having a bad day: 'down'
 * (connections dropped), '5xx' (503 with Retry-After), 'slow' (answers after `slowMs`).
 */

export type SupplierFault = 'none' | 'down' | '5xx' | 'slow';

export interface SupplierSimulatorOptions {
  host?: string;
  port?: number;
  /** the trading-partner profile as Carelane sees this supplier: the simulator sends as `theirs` to `ours` */
  profile: X12PartnerProfile;
  /** where 855/856/810 go, e.g. http://127.0.0.1:4100/x12/<partner>; none: documents are only recorded */
  callbackUrl?: string;
  scenarios?: Array<{ prefix: string; scenario: SupplierScenario }>;
  defaultScenario?: SupplierScenario;
  delays?: { ackMs?: number; shipMs?: number; invoiceMs?: number };
  invoiceVariance?: InvoiceVariance;
  /** lots per shipped line and how many of them are already expired (default one good lot per line) */
  lots?: LotSplit;
  fault?: SupplierFault;
  slowMs?: number;
  now?: () => Date;
  /**
   * The first ISA13/GS06 it sends (default 1). A real partner never reuses one (X12.5: a reused ISA13 with new
   * content is refused with TA1 025), so a simulator restarted against a receiver that remembers what it got
   * must start above what it sent before.
   */
  firstControlNumber?: number;
  /**
   * The REST profile (docs/supplier-rest.md): orders that came in as JSON are answered with signed JSON events
   * posted to `callbackUrl` (Carelane's /supplier-rest/<id>/events) instead of X12; `verifySecret` is the
   * secret Carelane signs purchase orders with (an order with a bad signature gets 401).
   */
  rest?: { callbackUrl: string; signingSecret: string; verifySecret?: string };
}

export interface SentDocument {
  type: '855' | '856' | '810' | 'purchase_order.acknowledged' | 'shipment.notified' | 'invoice.issued';
  poNumber: string;
  body: string;
  status: number | 'failed';
}

export interface SupplierSimulator {
  url: string;
  port: number;
  /** purchase orders processed once each, by PO number */
  readonly orders: Map<string, { order: PurchaseOrder; scenario: SupplierScenario; via: 'x12' | 'rest' }>;
  readonly sent: SentDocument[];
  /** how many POSTs arrived, duplicates included */
  received: number;
  duplicates: number;
  setFault(fault: SupplierFault): void;
  /** resolves once every scheduled document has been sent (or failed) */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSupplierSimulator(options: SupplierSimulatorOptions): Promise<SupplierSimulator> {
  const profile = options.profile;
  const now = options.now ?? (() => new Date());
  let fault: SupplierFault = options.fault ?? 'none';
  let nextControl = options.firstControlNumber ?? 1;
  const answered = new Map<string, string>();
  const timers = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const state: SupplierSimulator = {
    url: '',
    port: 0,
    orders: new Map(),
    sent: [],
    received: 0,
    duplicates: 0,
    setFault: (value) => void (fault = value),
    idle: async () => {
      while (timers.size > 0) await Promise.all([...timers]);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const scenarioFor = (poNumber: string): SupplierScenario => options.scenarios?.find((s) => poNumber.startsWith(s.prefix))?.scenario ?? options.defaultScenario ?? 'accept';

  /** One outbound interchange from the supplier to Carelane with one transaction set. */
  const interchangeOf = (functionalId: string, set: (control: string) => SegmentValues[]): string => {
    const n = nextControl++;
    return writeInterchange(functionalId, [set(String(n).padStart(4, '0'))], {
      sender: { qualifier: profile.theirs.qualifier, id: profile.theirs.id },
      receiver: { qualifier: profile.ours.qualifier, id: profile.ours.id },
      applicationSender: profile.theirs.applicationCode,
      applicationReceiver: profile.ours.applicationCode,
      version: profile.version,
      interchangeControlNumber: n,
      groupControlNumber: n,
      usage: profile.usage,
      at: now(),
    });
  };

  // A distributor's documents for one order go out in sequence (no 856 before its 855 is delivered), even when a
  // slow callback makes one delivery outlast the next one's delay.
  const lastSendOf = new Map<string, Promise<void>>();
  const send = (type: SentDocument['type'], poNumber: string, body: string, afterMs: number) => {
    const previous = lastSendOf.get(poNumber) ?? Promise.resolve();
    const job = Promise.all([new Promise<void>((resolve) => setTimeout(resolve, afterMs)), previous]).then(async () => {
      let status: number | 'failed' = 'failed';
      const json = body.startsWith('{');
      const target = json ? options.rest?.callbackUrl : options.callbackUrl;
      if (target) {
        // A distributor's gateway retries a failed delivery a few times before giving up.
        for (let attempt = 0; attempt < 3 && status !== 200 && status !== 202 && status !== 204; attempt++) {
          const headers: Record<string, string> = json ? { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(options.rest!.signingSecret, body, now()) } : { 'content-type': 'application/edi-x12' };
          status = await fetch(target, { method: 'POST', headers, body })
            .then((r) => r.arrayBuffer().then(() => r.status))
            .catch(() => 'failed' as const);
          if (status !== 200 && status !== 202 && status !== 204) await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
        }
      }
      state.sent.push({ type, poNumber, body, status });
    });
    timers.add(job);
    lastSendOf.set(poNumber, job);
    void job.finally(() => {
      timers.delete(job);
      if (lastSendOf.get(poNumber) === job) lastSendOf.delete(poNumber);
    });
  };

  const process = (order: PurchaseOrder, via: 'x12' | 'rest') => {
    if (state.orders.has(order.poNumber)) return;
    const scenario = scenarioFor(order.poNumber);
    state.orders.set(order.poNumber, { order, scenario, via });
    const at = now();
    const delays = { ackMs: 0, shipMs: 0, invoiceMs: 0, ...options.delays };
    if (via === 'rest' && options.rest) {
      const events = restEvents(order, scenario, shippedLines(order, scenario, at, options.lots), options.invoiceVariance ?? {}, at);
      events.forEach((event, index) => send(event.type as SentDocument['type'], order.poNumber, JSON.stringify(event), [delays.ackMs, delays.ackMs + delays.shipMs, delays.ackMs + delays.shipMs + delays.invoiceMs][index]!));
      return;
    }
    send('855', order.poNumber, interchangeOf('PR', (c) => purchaseOrderAck(order, scenario, c, at)), delays.ackMs);
    const shipped = shippedLines(order, scenario, at, options.lots);
    if (shipped.length === 0) return;
    const shipmentId = `SH${order.poNumber.replace(/[^A-Za-z0-9]/g, '')}`;
    send('856', order.poNumber, interchangeOf('SH', (c) => shipNotice(order, shipped, shipmentId, c, at)), delays.ackMs + delays.shipMs);
    send('810', order.poNumber, interchangeOf('IN', (c) => invoice(order, shipped, `INV${order.poNumber.replace(/[^A-Za-z0-9]/g, '')}`, options.invoiceVariance ?? {}, c, at)), delays.ackMs + delays.shipMs + delays.invoiceMs);
  };

  const onX12 = (body: Buffer): { status: number; type: string; text: string } => {
    let document;
    try {
      document = readX12(body);
    } catch (error) {
      return { status: 400, type: 'text/plain', text: `${(error as Error).message}\n` };
    }
    const answers: string[] = [];
    for (const interchange of document.interchanges) {
      const key = `${interchange.header.senderQualifier}:${interchange.header.senderId}:${Number(interchange.header.controlNumber)}`;
      const previous = answered.get(key);
      if (previous) {
        state.duplicates++;
        answers.push(previous);
        continue;
      }
      const n = nextControl++;
      const ack = writeFunctionalAcks(interchange, { interchangeControlNumber: n, groupControlNumber: n, firstTransactionControlNumber: 1, usage: interchange.header.usage === 'P' ? 'P' : 'T', at: now() });
      answered.set(key, ack);
      answers.push(ack);
      if (interchange.issues.length > 0) continue;
      for (const group of interchange.groups) {
        if (group.issues.length > 0) continue;
        for (const set of group.transactions) {
          if (set.type !== '850' || set.issues.length > 0) continue;
          const canonical = toCanonical(set);
          if (canonical.type === '850') process(canonical.purchaseOrder, 'x12');
        }
      }
    }
    return { status: 200, type: 'application/edi-x12', text: answers.join('') };
  };

  const onRest = (body: Buffer, signature: string | undefined): { status: number; type: string; text: string } => {
    if (options.rest?.verifySecret) {
      try {
        verifySignature(signature, body, [options.rest.verifySecret], { now: now() });
      } catch (error) {
        return { status: 401, type: 'application/json', text: JSON.stringify({ error: 'signature_invalid', message: (error as Error).message }) };
      }
    }
    let order: PurchaseOrder;
    try {
      order = fromRestOrder(JSON.parse(body.toString('utf8')) as RestPurchaseOrder);
    } catch (error) {
      return { status: 400, type: 'application/json', text: JSON.stringify({ error: 'invalid_purchase_order', message: (error as Error).message }) };
    }
    const duplicate = state.orders.has(order.poNumber);
    if (duplicate) state.duplicates++;
    process(order, 'rest');
    return { status: duplicate ? 200 : 202, type: 'application/json', text: JSON.stringify({ poNumber: order.poNumber, status: 'received', scenario: state.orders.get(order.poNumber)!.scenario }) };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.received++;
      if (fault === 'down') return void req.socket.destroy();
      if (fault === '5xx') return void res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end('gateway unavailable\n');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const known = /^\/rest\/purchase-orders\/([^/]+)$/.exec(path);
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      // GET /rest/purchase-orders/<poNumber>: whether the supplier has the order (Carelane's lookup after a lost answer).
      const answer = req.method === 'GET' && known
        ? state.orders.has(decodeURIComponent(known[1]!))
          ? { status: 200, type: 'application/json', text: JSON.stringify({ poNumber: decodeURIComponent(known[1]!), status: 'received' }) }
          : { status: 404, type: 'application/json', text: JSON.stringify({ error: 'not_found' }) }
        : req.method !== 'POST' ? { status: 405, type: 'text/plain', text: 'POST only\n' } : path === '/x12' ? onX12(Buffer.concat(chunks)) : path === '/rest/purchase-orders' ? onRest(Buffer.concat(chunks), signature) : { status: 404, type: 'text/plain', text: 'not found\n' };
      // 'slow': the order is taken (and its documents scheduled) but the answer comes late — the caller's
      // timeout fires after sending, which is the ambiguous case a lookup must settle.
      const reply = () => void (res.writableEnded || res.destroyed ? undefined : res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.text));
      if (fault === 'slow') setTimeout(reply, options.slowMs ?? 5_000);
      else reply();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  state.port = address.port;
  state.url = `http://${address.address}:${address.port}`;
  return state;
}

/** The JSON purchase order of the REST variant (the shape of Carelane's OutboundPurchaseOrder). */
export interface RestPurchaseOrder {
  poNumber: string;
  orderDate: string;
  shipTo?: { id: string };
  lines: Array<{ lineNumber?: string; quantity: number; unitOfMeasure: string; unitPrice: string; vendorPartNumber?: string; gtin?: string; buyerPartNumber?: string }>;
}

function fromRestOrder(input: RestPurchaseOrder): PurchaseOrder {
  if (!input || typeof input.poNumber !== 'string' || !Array.isArray(input.lines) || input.lines.length === 0) throw new Error('poNumber and lines are required');
  return {
    poNumber: input.poNumber,
    orderDate: input.orderDate,
    purpose: '00',
    orderType: 'NE',
    parties: [],
    ...(input.shipTo ? { shipToId: input.shipTo.id } : {}),
    lines: input.lines.map((l, i) => ({
      lineNumber: l.lineNumber ?? String(i + 1),
      quantity: l.quantity,
      unitOfMeasure: l.unitOfMeasure,
      unitPrice: l.unitPrice,
      product: {
        ...(l.gtin ? { gtin: l.gtin } : {}),
        ...(l.vendorPartNumber ? { vendorPartNumber: l.vendorPartNumber } : {}),
        ...(l.buyerPartNumber ? { buyerPartNumber: l.buyerPartNumber } : {}),
        all: [],
      },
    })),
  };
}
