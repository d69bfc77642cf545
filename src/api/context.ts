import type pg from 'pg';
import type { CarelaneConfig } from '../config/index.ts';
import type { Ingest, SettlementHook } from '../engine/index.ts';
import type { PatientTokenizer } from '../governance/index.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Kpis } from '../observability/kpis.ts';

/** What the HTTP layer may use: handed in by the composition root, so routes never build their own. */
export interface ApiContext {
  config: CarelaneConfig;
  pool: pg.Pool;
  ingest: Ingest;
  metrics: Metrics;
  /** absent when governance.tokenization has no keys */
  tokenizer?: PatientTokenizer | undefined;
  /** whether the engine's workers are running (for /readyz) */
  engineRunning(): boolean;
  /** supply-chain KPIs (cached), with Odoo on-hand stock where the app has Odoo connections */
  kpis?: () => Promise<Kpis>;
  /** the engine's settlement hook (HL7 v2 application ACKs), for operator actions that settle a message */
  onSettled?: SettlementHook | undefined;
  /** the lane of what onSettled enqueues for a message no route takes */
  unroutedLane?: string | undefined;
}
