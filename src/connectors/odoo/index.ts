// The Odoo connector's door (CONVENTIONS.md: a folder's index.ts is its door).
export { OdooClient, type OdooClientOptions, type SearchReadOptions } from './client.ts';
export type { OdooCall, OdooConnectionConfig, OdooRecord, OdooTransportName, OdooVersion, Domain, Many2one } from './types.ts';
export { SUPPORTED_VERSIONS, many2oneId } from './types.ts';
export { classifyOdooException, classifyTransportFailure, faultFromXmlRpc, type OdooFault } from './errors.ts';
export { odooMetrics, type OdooMetrics } from './metrics.ts';
export { RoundTripLimiter } from './limiter.ts';
export { CARELANE_MODULE, externalIdName, findByExternalIds, createIdempotent, type IdempotentItem, type IdempotentResult } from './external-ids.ts';
export { ProductGateway, type Product, type NewProduct, type Tracking } from './gateways/products.ts';
export { StockGateway, type StockBalance, type StockLocation, type Lot, type NewLot } from './gateways/stock.ts';
export { TransferGateway, type TransferRequest, type TransferLine, type TransferOutcome, type PickingState } from './gateways/transfers.ts';
export { pollChanges, loadCursor, saveCursor, changedSince, type ChangeCursor, type PollOptions } from './cursors.ts';
export { lotModel, productTypeValues, moveDoneQuantityField, purchaseLineUomField } from './versions.ts';
export { VendorGateway, selectSeller, type Vendor, type NewVendor, type VendorPrice, type NewVendorPrice, type SellerQuery } from './gateways/vendors.ts';
export { PurchaseGateway, type PurchaseLine, type PurchaseOrderRequest, type PurchaseOrderStatus, type PurchaseOutcome, type PurchaseState, type ReceiptStatus } from './gateways/purchases.ts';
export { ReceiptGateway, type ReceivedLine, type ReceiptRequest, type ReceiptOutcome } from './gateways/receipts.ts';
export { supplierInfoPartnerField, hasReceiptStatus, moveLineDoneValues } from './versions.ts';
export { reserveTransferHandler, placePurchaseOrderHandler, odooHandlers, type OdooClientFor } from './handlers.ts';
export { odooConnections } from './connections.ts';
