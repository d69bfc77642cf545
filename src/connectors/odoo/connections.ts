import type { Registry } from 'prom-client';
import { permanentError } from '../../contracts/errors.ts';
import { OdooClient } from './client.ts';
import type { OdooClientFor } from './handlers.ts';
import type { OdooConnectionConfig } from './types.ts';

/**
 * One OdooClient per configured connection, made on first use (version detection is a round trip) and shared
 * by every delivery to that endpoint, so its concurrency and rate limits hold for all of them. A failed connect
 * is not cached: the delivery fails transiently and the next attempt connects again.
 */
export function odooConnections(connections: Record<string, Omit<OdooConnectionConfig, 'name'>>, registry?: Registry): OdooClientFor {
  const clients = new Map<string, Promise<OdooClient>>();
  return (endpoint) => {
    const existing = clients.get(endpoint);
    if (existing) return existing;
    const settings = connections[endpoint];
    if (!settings) {
      return Promise.reject(
        permanentError(`no Odoo connection named "${endpoint}" in carelane.yaml`, { code: 'odoo_connection_unknown', where: { field: `odoo.connections.${endpoint}` } }),
      );
    }
    const client = OdooClient.connect({ ...settings, name: endpoint }, registry ? { registry } : {});
    clients.set(endpoint, client);
    client.catch(() => clients.delete(endpoint));
    return client;
  };
}
