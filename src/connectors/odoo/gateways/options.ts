import type { OdooClient } from '../client.ts';

export interface GatewayOptions {
  /** ends every call the gateway makes, e.g. the engine's HandlerContext.signal (attempt deadline, shutdown) */
  signal?: AbortSignal | undefined;
}

/** The client every call of a gateway goes through: the given one, bound to the gateway's signal if any. */
export const signalled = (client: OdooClient, options: GatewayOptions): OdooClient => client.withSignal(options.signal);
