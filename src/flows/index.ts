import type { DeliveryHandler } from '../engine/index.ts';
import { noopFlow } from './noop.ts';

/** Every flow Carelane ships; the composition root registers them with the engine. */
export const flows: DeliveryHandler[] = [noopFlow];
