import { permanentError } from '../../contracts/errors.ts';
import { smartBackendServices, staticBearerToken, type FhirAuth } from './auth.ts';
import { FhirClient } from './client.ts';
import type { FhirClientFor } from './handlers.ts';

/** A FHIR server Carelane writes to (carelane.yaml `fhir.servers.<name>`), as the config schema gives it. */
export interface FhirServerSettings {
  url: string;
  auth?:
    | { type: 'bearer'; token: string }
    | { type: 'smart'; tokenUrl: string; clientId: string; keyId: string; privateKey: string; scope: string; algorithm?: 'RS384' | 'ES384'; jwksUrl?: string }
    | undefined;
  timeoutMs: number;
  taskIdentifierSystem?: string | undefined;
}

export function fhirAuthFor(settings: FhirServerSettings['auth']): FhirAuth | undefined {
  if (!settings) return undefined;
  if (settings.type === 'bearer') return staticBearerToken(settings.token);
  return smartBackendServices({
    tokenUrl: settings.tokenUrl,
    clientId: settings.clientId,
    keyId: settings.keyId,
    privateKey: settings.privateKey,
    scope: settings.scope,
    ...(settings.algorithm ? { algorithm: settings.algorithm } : {}),
    ...(settings.jwksUrl ? { jwksUrl: settings.jwksUrl } : {}),
  });
}

/**
 * One FhirClient per configured server, made on first use and shared by every delivery to it (its SMART
 * token is cached once for all of them). An endpoint naming no server is a configuration error: permanent.
 */
export function fhirServers(servers: Record<string, FhirServerSettings>): FhirClientFor {
  const clients = new Map<string, FhirClient>();
  return (endpoint) => {
    const existing = clients.get(endpoint);
    if (existing) return existing;
    const settings = servers[endpoint];
    if (!settings) {
      throw permanentError(`no FHIR server named "${endpoint}" in carelane.yaml`, { code: 'fhir_server_unknown', where: { field: `fhir.servers.${endpoint}` } });
    }
    const auth = fhirAuthFor(settings.auth);
    const client = new FhirClient({ baseUrl: settings.url, timeoutMs: settings.timeoutMs, ...(auth ? { auth } : {}) });
    clients.set(endpoint, client);
    return client;
  };
}
