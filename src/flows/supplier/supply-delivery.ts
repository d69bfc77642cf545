import type { NewDelivery } from '../../engine/handlers.ts';
import type { FhirSupplyDeliveryRequest } from '../../connectors/fhir/handlers.ts';
import type { FlowsConfig } from '../../config/schema.ts';
import type { Queryable } from '../../store/database.ts';

/**
 * Received stock told back to the EHR as availability (flows.supplier.supplyDelivery): a FHIR SupplyDelivery
 * (status completed) per FHIR demand the PO served and product it was short of, on the FHIR server its status
 * goes back to (flows.demand.statusBack, the rule with a fhirServer matching the demand's inbound source).
 * SupplyDelivery.basedOn references the SupplyRequest when the demand was one (R4: basedOn is
 * Reference(SupplyRequest)); the item is named by the EHR's own code (item crosswalk). Nothing about a patient.
 */
export interface SupplyDeliveryTarget {
  endpoint: string;
  lane: string;
  demandKey: string;
  /** the demand resource, Type/id */
  demandResource: string;
  /** product → what this demand was short of, and the EHR's code for it */
  products: Array<{ productId: number; shortQuantity: number; code?: { system: string; code: string } }>;
}

const matches = (pattern: string, value: string): boolean => (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value);

/** The FHIR demands linked to a PO's transaction and where each hears back; DB only. */
export async function supplyDeliveryTargets(db: Queryable, poCorrelationId: string, flows: FlowsConfig): Promise<SupplyDeliveryTarget[]> {
  const { rows } = await db.query<{ demand_key: string; lines: Array<{ productId: number; quantity: number; reserved?: number }>; source: string | null }>(
    `select d.demand_key, d.lines, m.source
       from carelane.transaction_links l
       join carelane.demands d on d.correlation_id = l.correlation_id
       left join carelane.messages m on m.id = d.message_id
      where l.related_id = $1 and l.relation = 'purchase_order'
      order by d.created_at`,
    [poCorrelationId],
  );
  const targets: SupplyDeliveryTarget[] = [];
  for (const row of rows) {
    if (!row.source) continue;
    const rule = flows.demand.statusBack.find((r) => r.fhirServer && matches(r.source, row.source!));
    const resource = row.demand_key.slice(row.demand_key.lastIndexOf('|') + 1);
    if (!rule?.fhirServer || !/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(resource)) continue;
    const short = row.lines.filter((l) => (l.reserved ?? 0) < l.quantity).map((l) => ({ productId: l.productId, shortQuantity: l.quantity - (l.reserved ?? 0) }));
    if (short.length === 0) continue;
    const { rows: codes } = await db.query<{ odoo_product_id: number; ehr_system: string; ehr_code: string }>(
      `select distinct on (odoo_product_id) odoo_product_id, ehr_system, ehr_code from carelane.item_crosswalk
        where valid_to is null and odoo_product_id = any($1::int[]) order by odoo_product_id, id`,
      [short.map((s) => s.productId)],
    );
    const codeOf = new Map(codes.map((c) => [c.odoo_product_id, { system: c.ehr_system, code: c.ehr_code }]));
    targets.push({
      endpoint: rule.fhirServer,
      lane: rule.lane,
      demandKey: row.demand_key,
      demandResource: resource,
      products: short.map((s) => ({ ...s, ...(codeOf.get(s.productId) ? { code: codeOf.get(s.productId)! } : {}) })),
    });
  }
  return targets;
}

/**
 * One `fhir.create_supply_delivery` per target and received product, for at most what the demand was short of,
 * allocated in demand order when several demands share the PO. Keyed by receipt batch, demand and product.
 */
export function supplyDeliveries(targets: SupplyDeliveryTarget[], batchKey: string, received: Array<{ productId: number; quantity: number }>, correlationId: string): NewDelivery[] {
  const left = new Map<number, number>();
  for (const r of received) left.set(r.productId, (left.get(r.productId) ?? 0) + r.quantity);
  const deliveries: NewDelivery[] = [];
  for (const target of targets) {
    for (const product of target.products) {
      const available = left.get(product.productId) ?? 0;
      const quantity = Math.min(available, product.shortQuantity);
      if (quantity <= 0) continue;
      left.set(product.productId, available - quantity);
      const key = `supply-delivery:${batchKey}:${target.demandKey}:${product.productId}`;
      const payload: FhirSupplyDeliveryRequest = {
        key,
        status: 'completed',
        ...(target.demandResource.startsWith('SupplyRequest/') ? { basedOn: target.demandResource } : {}),
        quantity,
        item: product.code ? { system: product.code.system, code: product.code.code } : { text: `Odoo product ${product.productId}` },
        occurredAt: new Date().toISOString(),
      };
      deliveries.push({ lane: target.lane, action: 'fhir.create_supply_delivery', endpoint: target.endpoint, idempotencyKey: `fhir.create_supply_delivery:${key}`, correlationId, orderingKey: `status:${target.demandKey}`, payload });
    }
  }
  return deliveries;
}
