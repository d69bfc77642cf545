import type { OdooClient } from '../client.ts';
import { createIdempotent } from '../external-ids.ts';
import { many2oneId } from '../types.ts';
import type { AnalyticDistribution } from '../versions.ts';
import { type GatewayOptions, signalled } from './options.ts';

export interface JournalLine {
  /** account.account of the line */
  accountId: number;
  /** label of the journal item */
  name: string;
  /** one of debit / credit is 0; both are amounts in the company currency, positive */
  debit: number;
  credit: number;
  productId?: number;
  quantity?: number;
  /** cost centre split (analytic.mixin, 16+, reference/odoo.md §2.11) */
  analyticDistribution?: AnalyticDistribution;
}

export interface JournalEntryRequest {
  /** idempotency key → external id carelane.<key> */
  key: string;
  /** accounting date 'YYYY-MM-DD' */
  date: string;
  /** the entry's reference (`ref`), also the lookup for a create whose answer was lost */
  reference: string;
  /** account.journal; absent → Odoo's default general journal */
  journalId?: number;
  lines: JournalLine[];
}

export interface JournalEntry {
  moveId: number;
  /** '/' until posted, then the journal's sequence (e.g. MISC/2026/11/0001) */
  name: string;
  state: 'draft' | 'posted' | 'cancel';
  date: string | undefined;
  journalId: number | undefined;
  /** debits of the entry, as Odoo computed them */
  amountTotal: number;
}

/**
 * Miscellaneous journal entries (account.move, move_type 'entry') with their journal items in `line_ids`
 * (0, 0, {account_id, debit, credit, analytic_distribution …}), then `action_post`: Odoo refuses an unbalanced
 * entry at posting (_check_balanced) and builds the analytic lines of the posted items from their
 * analytic_distribution [K]. Like the bill gateway, a resumable saga: create once (external id, else journal
 * entry with the same `ref` not cancelled), post if still draft, read back.
 */
export class JournalEntryGateway {
  private readonly client: OdooClient;

  constructor(client: OdooClient, options: GatewayOptions = {}) {
    this.client = signalled(client, options);
  }

  async record(request: JournalEntryRequest): Promise<JournalEntry & { created: boolean }> {
    const values = {
      move_type: 'entry',
      date: request.date,
      ref: request.reference,
      ...(request.journalId ? { journal_id: request.journalId } : {}),
      line_ids: request.lines.map((line) => [
        0,
        0,
        {
          account_id: line.accountId,
          name: line.name,
          debit: line.debit,
          credit: line.credit,
          ...(line.productId ? { product_id: line.productId } : {}),
          ...(line.quantity !== undefined ? { quantity: line.quantity } : {}),
          ...(line.analyticDistribution ? { analytic_distribution: line.analyticDistribution } : {}),
        },
      ]),
    };
    const result = await createIdempotent(this.client, 'account.move', [{ key: request.key, values }], {
      findUnbound: async (keys) => {
        const [id] = await this.client.search('account.move', [['move_type', '=', 'entry'], ['ref', '=', request.reference], ['state', '!=', 'cancel']], { limit: 1, order: 'id' });
        return new Map(id === undefined ? [] : keys.map((key) => [key, id] as [string, number]));
      },
    });
    const { id, created } = result.get(request.key)!;
    // A new entry is a draft by construction; only a resumed one needs its state read first.
    if (created || (await this.read(id)).state === 'draft') await this.client.action('account.move', 'action_post', [id]);
    return { ...(await this.read(id)), created };
  }

  async read(moveId: number): Promise<JournalEntry> {
    const [row] = await this.client.read('account.move', [moveId], ['name', 'state', 'date', 'journal_id', 'amount_total']);
    if (!row) throw new Error(`account.move ${moveId} does not exist`);
    return {
      moveId: row.id,
      name: String(row.name),
      state: String(row.state) as JournalEntry['state'],
      date: typeof row.date === 'string' ? row.date : undefined,
      journalId: many2oneId(row.journal_id),
      amountTotal: Number(row.amount_total ?? 0),
    };
  }

  /** The entry's journal items with their analytic split: what a reconciliation of the allocation reads. */
  async lines(moveId: number): Promise<Array<JournalLine & { lineId: number }>> {
    const rows = await this.client.searchRead('account.move.line', [['move_id', '=', moveId]], { fields: ['account_id', 'name', 'debit', 'credit', 'product_id', 'quantity', 'analytic_distribution'], order: 'id' });
    return rows.map((row) => ({
      lineId: row.id,
      accountId: many2oneId(row.account_id) ?? 0,
      name: String(row.name ?? ''),
      debit: Number(row.debit ?? 0),
      credit: Number(row.credit ?? 0),
      ...(many2oneId(row.product_id) ? { productId: many2oneId(row.product_id)! } : {}),
      quantity: Number(row.quantity ?? 0),
      // read answers False for an empty JSON field
      ...(row.analytic_distribution && typeof row.analytic_distribution === 'object' ? { analyticDistribution: row.analytic_distribution as AnalyticDistribution } : {}),
    }));
  }
}
