// The supplier simulator's door: an X12/REST distributor stand-in for demos and tests.
export { startSupplierSimulator, type SupplierSimulator, type SupplierSimulatorOptions, type SupplierFault, type SentDocument, type RestPurchaseOrder } from './server.ts';
export { gtinForLine, confirmedQuantity, type SupplierScenario, type InvoiceVariance } from './documents.ts';
export { startSftpServer, type SftpServer, type SftpServerOptions } from './sftp-server.ts';
