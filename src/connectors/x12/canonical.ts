/**
 * Carelane's canonical supply-chain documents as read from (and written to) X12. Plain data: dates are ISO
 * 'YYYY-MM-DD', money is a decimal string (never a float: invoices are matched to the cent), quantities are
 * numbers.
 */

/** Product identifiers of a line (X12 data element 235 qualifiers). */
export interface ProductIds {
  /** GTIN-14 when any identifier is a valid GTIN (UK, EN, UP, UA, UI qualifiers) */
  gtin?: string;
  /** VN/VP/VA: the supplier's own SKU */
  vendorPartNumber?: string;
  /** BP/IN/CB: the buyer's number */
  buyerPartNumber?: string;
  /** every qualifier/value pair as written */
  all: Array<{ qualifier: string; value: string }>;
}

export interface Party {
  /** N101 entity code, e.g. 'ST' ship-to, 'VN' vendor, 'BY' buyer, 'BT' bill-to */
  role: string;
  name?: string;
  /** N103 id qualifier, e.g. '92' assigned by buyer, '9' DUNS+4, 'UL' GLN */
  idQualifier?: string;
  id?: string;
}

export interface PurchaseOrderLine {
  lineNumber?: string;
  quantity: number;
  unitOfMeasure: string;
  unitPrice?: string;
  product: ProductIds;
  description?: string;
}

export interface PurchaseOrder {
  poNumber: string;
  orderDate: string;
  /** BEG01, '00' original, '01' cancellation, '05' replace, '06' confirmation */
  purpose: string;
  /** BEG02, e.g. 'SA' stand-alone, 'NE' new order */
  orderType: string;
  vendorId?: string;
  shipToId?: string;
  parties: Party[];
  lines: PurchaseOrderLine[];
}

/** ACK01 (data element 668) grouped into what a flow acts on. */
export type LineStatus = 'accepted' | 'changed' | 'rejected' | 'backordered' | 'on_hold' | 'other';

export interface PurchaseOrderAckLine {
  lineNumber?: string;
  orderedQuantity?: number;
  unitOfMeasure?: string;
  unitPrice?: string;
  product: ProductIds;
  /** `reason`: the supplier's own words for a rejection (REST profile `lines[].reason`; an 855 says it by ACK01 code only) */
  statuses: Array<{ code: string; status: LineStatus; quantity?: number; unitOfMeasure?: string; date?: string; reason?: string }>;
}

export interface PurchaseOrderAck {
  poNumber: string;
  /** BAK02 (587): 'AC' acknowledge with detail and change, 'AD' no change, 'AK' no detail, 'RJ' rejected, … */
  acknowledgmentType: string;
  poDate: string;
  lines: PurchaseOrderAckLine[];
}

export interface ShipNoticeLot {
  lot: string;
  expiryDate?: string;
  quantity?: number;
}

export interface ShippedItem {
  /** the HL id of the item level */
  hierarchyId: string;
  poNumber?: string;
  /** SSCC or other mark of the pack/tare the item is in (MAN) */
  packageMark?: string;
  lineNumber?: string;
  product: ProductIds;
  quantity: number;
  unitOfMeasure: string;
  lots: ShipNoticeLot[];
  /** serial numbers of the units shipped (LIN qualifier SN, REF*SE at the item level) */
  serials?: string[];
  /** HIBCC UDI (LIN qualifier HI), check character verified; a GS1 item's UDI-DI is its `product.gtin` */
  udi?: { issuer: 'HIBCC'; value: string; di: string };
}

export interface HierarchyLevel {
  id: string;
  parentId?: string;
  /** HL03 (735): S shipment, O order, T tare, P pack, I item, … */
  code: string;
  level: 'shipment' | 'order' | 'tare' | 'pack' | 'item' | 'other';
}

export interface ShipNotice {
  shipmentId: string;
  noticeDate: string;
  purpose: string;
  shippedDate?: string;
  billOfLading?: string;
  hierarchy: HierarchyLevel[];
  items: ShippedItem[];
}

export interface InvoiceLine {
  lineNumber?: string;
  quantity: number;
  unitOfMeasure: string;
  unitPrice: string;
  product: ProductIds;
  description?: string;
}

export interface Invoice {
  invoiceNumber: string;
  invoiceDate: string;
  poNumber?: string;
  poDate?: string;
  parties: Party[];
  lines: InvoiceLine[];
  /** TDS01, total invoice amount */
  totalAmount: string;
}

export interface InventoryItem {
  product: ProductIds;
  description?: string;
  /** QTY01 (673) qualifier, e.g. '33' quantity available for sale, '17' on hand, with quantity and unit */
  quantities: Array<{ qualifier: string; quantity: number; unitOfMeasure?: string }>;
  lots: ShipNoticeLot[];
}

export interface InventoryAdvice {
  reportId: string;
  reportDate: string;
  /** BIA02 (755) report type code */
  reportType: string;
  items: InventoryItem[];
}

export type CanonicalDocument =
  | { type: '850'; purchaseOrder: PurchaseOrder }
  | { type: '855'; purchaseOrderAck: PurchaseOrderAck }
  | { type: '856'; shipNotice: ShipNotice }
  | { type: '810'; invoice: Invoice }
  | { type: '846'; inventoryAdvice: InventoryAdvice };
