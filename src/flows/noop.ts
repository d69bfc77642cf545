import type { DeliveryHandler } from '../engine/index.ts';

/**
 * The flow of the foundation: accepts any routed message and does nothing with it. It makes the whole
 * inbound path (persist → ACK → route → flow → processed) observable before the real flows exist.
 */
export const noopFlow: DeliveryHandler = {
  action: 'flow.noop',
  async run() {
    return { stages: [{ stage: 'flow.noop: accepted, no effect configured' }] };
  },
};
