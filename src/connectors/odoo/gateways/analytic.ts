import { permanentError } from '../../../contracts/errors.ts';
import type { OdooClient } from '../client.ts';
import { many2oneId, type Domain } from '../types.ts';
import { type AnalyticDistribution, analyticPlanField } from '../versions.ts';
import { type GatewayOptions, signalled } from './options.ts';

export interface AnalyticPlan {
  id: number;
  name: string;
  parentId: number | undefined;
}

export interface AnalyticAccount {
  id: number;
  name: string;
  code: string | undefined;
  planId: number | undefined;
}

export interface Department {
  id: number;
  name: string;
  /** 'Hospital / Surgery / Ward A' */
  completeName: string;
  parentId: number | undefined;
  managerId: number | undefined;
}

/** One share of a cost: the analytic accounts it goes to (one per plan) and its percentage. */
export interface AnalyticShare {
  accountIds: number[];
  percentage: number;
}

/**
 * Builds an `analytic_distribution` value (reference/odoo.md §2.11): keys are account ids as strings, several
 * ids joined by ',' when one share spans several plans (17+ format), values percentages 0–100. Bad shares come
 * from the flow's mapping, so they fail permanently here rather than as an Odoo error later.
 */
export function analyticDistribution(shares: AnalyticShare[]): AnalyticDistribution {
  const distribution: AnalyticDistribution = {};
  for (const share of shares) {
    if (share.accountIds.length === 0 || !share.accountIds.every((id) => Number.isInteger(id) && id > 0)) {
      throw permanentError(`analytic share needs positive account ids, got ${JSON.stringify(share.accountIds)}`, { code: 'odoo_bad_distribution', where: { field: 'analytic_distribution' } });
    }
    if (!(share.percentage > 0 && share.percentage <= 100)) {
      throw permanentError(`analytic share percentage must be in (0, 100], got ${share.percentage}`, { code: 'odoo_bad_distribution', where: { field: 'analytic_distribution' } });
    }
    const key = [...share.accountIds].sort((a, b) => a - b).join(',');
    distribution[key] = (distribution[key] ?? 0) + share.percentage;
  }
  return distribution;
}

/**
 * Cost centres: analytic plans and accounts (one plan such as "Departments" with an account per ward, §2.11) and
 * hr.department (§2.12). Odoo has no standard department → analytic account link, so the mapping lives in
 * Carelane's crosswalks; this gateway only reads both sides and writes distributions.
 */
export class AnalyticGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  async plans(): Promise<AnalyticPlan[]> {
    const rows = await this.client.searchRead('account.analytic.plan', [], { fields: ['name', 'parent_id'], order: 'id' });
    return rows.map((row) => ({ id: row.id, name: String(row.name), parentId: many2oneId(row.parent_id) }));
  }

  /** Active analytic accounts, optionally of some plans or with some codes: one round trip. */
  async accounts(query: { planIds?: number[]; codes?: string[] } = {}): Promise<AnalyticAccount[]> {
    const plan = analyticPlanField(this.client.version);
    const domain: Domain = [];
    if (query.planIds) domain.push([plan, 'in', query.planIds]);
    if (query.codes) domain.push(['code', 'in', query.codes]);
    const rows = await this.client.searchRead('account.analytic.account', domain, { fields: ['name', 'code', plan], order: 'id' });
    return rows.map((row) => ({ id: row.id, name: String(row.name), code: typeof row.code === 'string' && row.code ? row.code : undefined, planId: many2oneId(row[plan]) }));
  }

  /** Active departments, parents first when the tree is read in id order. */
  async departments(): Promise<Department[]> {
    const rows = await this.client.searchRead('hr.department', [], { fields: ['name', 'complete_name', 'parent_id', 'manager_id'], order: 'id' });
    return rows.map((row) => ({
      id: row.id,
      name: String(row.name),
      completeName: typeof row.complete_name === 'string' && row.complete_name ? row.complete_name : String(row.name),
      parentId: many2oneId(row.parent_id),
      managerId: many2oneId(row.manager_id),
    }));
  }

  /**
   * Writes one distribution on journal items (account.move.line, e.g. a bill's lines) in one round trip. Odoo
   * lets analytic values change on posted entries and rebuilds their analytic lines [K].
   */
  async setMoveLineDistribution(lineIds: number[], distribution: AnalyticDistribution): Promise<void> {
    // analytic_distribution exists on every supported version (16+, versions.ts hasAnalyticDistribution).
    if (lineIds.length === 0) return;
    await this.client.write('account.move.line', lineIds, { analytic_distribution: distribution });
  }
}
