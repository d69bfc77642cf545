import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { classify, permanentError, transientError, type CarelaneError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import type { X12PartnerProfile } from './partner-profile.ts';
import { startPollLoop, type PollLoop } from './poll-loop.ts';
import { receiveX12, type ReceiveX12Options } from './receive.ts';

/**
 * X12 over a watched folder, for on-premise EDI gateways and VAN mailboxes mounted as directories.
 *
 * Inbound (one poll = one pass over the partner's inbound folder):
 * - only `*.edi` / `*.x12` files are taken; dot-files and `*.tmp` are a writer's work in progress;
 * - write-complete detection: writers should write under a temporary name and rename (rename(2) is atomic
 *   within one file system, so a name that matches appears complete); since not every gateway does, every file
 *   is also taken only once its size and mtime are unchanged since the previous poll and it is older than
 *   `settleMs` (Apache Camel's file component `readLock=changed` does the same). Cost: one poll of latency;
 * - each file goes through receiveX12 (persist, then acknowledge — DESIGN.md principle 1); the TA1/997/999 is
 *   dropped into the outbound folder, and only then is the file moved to `processed/` (or `rejected/` when the
 *   interchange was refused as a whole or is not X12). It is never deleted. If the store is down the file
 *   stays where it is and the next poll takes it again; if the process dies between store and move, the next
 *   poll receives a duplicate (same sender, same ISA13), which is stored once and answered with the same ack.
 *
 * Outbound: `dropX12File` writes `.<name>.tmp`, fsyncs it, then renames it to `<name>`, so the partner's
 * gateway never picks up half a file.
 */

export interface X12FolderOptions extends Omit<ReceiveX12Options, 'partnerId'> {
  partner: X12PartnerProfile;
  profiles: readonly X12PartnerProfile[];
  sink: InboundSink;
  /** where the partner drops interchanges for us */
  inbound: string;
  /** where we drop acknowledgments (and 850s) for the partner; default: the profile's endpoint */
  outbound?: string;
  /** default `<inbound>/processed` and `<inbound>/rejected` */
  processed?: string;
  rejected?: string;
  /** a file without the rename convention is taken once unchanged for this long (default 2000 ms) */
  settleMs?: number;
}

export type FolderFileOutcome =
  | { file: string; kind: 'processed' | 'rejected'; messageIds: number[]; ackFile?: string; duplicate: boolean }
  | { file: string; kind: 'left'; error: CarelaneError };

/** Names taken by a pickup (folder or SFTP): `*.edi` / `*.x12`, never a dot-file (an upload in progress). */
export const PICKUP = /^[^.].*\.(edi|x12)$/i;

/** What the previous poll saw of files not yet settled: name → size and mtime. */
export type SettleState = Map<string, { size: number; mtimeMs: number }>;

export function newSettleState(): SettleState {
  return new Map();
}

/** One pass over the inbound folder; files are handled one at a time, oldest name first. */
export async function pollX12Folder(options: X12FolderOptions, settle: SettleState = newSettleState(), now: () => number = Date.now): Promise<FolderFileOutcome[]> {
  const processed = options.processed ?? path.join(options.inbound, 'processed');
  const rejected = options.rejected ?? path.join(options.inbound, 'rejected');
  const outbound = options.outbound ?? options.partner.endpoint;
  await Promise.all([mkdir(processed, { recursive: true }), mkdir(rejected, { recursive: true }), mkdir(outbound, { recursive: true })]);
  const names = (await readdir(options.inbound, { withFileTypes: true })).filter((e) => e.isFile() && PICKUP.test(e.name)).map((e) => e.name).sort();
  const outcomes: FolderFileOutcome[] = [];
  for (const name of names) {
    const file = path.join(options.inbound, name);
    if (!(await isSettled(file, name, settle, options.settleMs ?? 2000, now))) continue;
    outcomes.push(await receiveFile(file, name, settle.get(name)!, { ...options, outbound, processed, rejected }));
  }
  for (const name of settle.keys()) if (!names.includes(name)) settle.delete(name);
  return outcomes;
}

async function isSettled(file: string, name: string, settle: SettleState, settleMs: number, now: () => number): Promise<boolean> {
  const info = await stat(file);
  const seen = settle.get(name);
  settle.set(name, { size: info.size, mtimeMs: info.mtimeMs });
  return seen !== undefined && seen.size === info.size && seen.mtimeMs === info.mtimeMs && now() - info.mtimeMs >= settleMs;
}

async function receiveFile(file: string, name: string, listed: { size: number; mtimeMs: number }, options: X12FolderOptions & { outbound: string; processed: string; rejected: string }): Promise<FolderFileOutcome> {
  let outcome;
  try {
    outcome = await receiveX12(await readFile(file), options.profiles, options.sink, { ...options, partnerId: options.partner.id });
  } catch (error) {
    return { file: name, kind: 'left', error: classify(error) };
  }
  if (outcome.kind === 'not_stored') return { file: name, kind: 'left', error: outcome.error };
  try {
    await unchangedSinceListed(file, listed);
    if (outcome.kind === 'unreadable') {
      await moveAside(file, options.rejected, name);
      options.sink.acknowledge(outcome.messageId);
      return { file: name, kind: 'rejected', messageIds: [outcome.messageId], duplicate: false };
    }
    // Named after the received file, so a re-received duplicate overwrites the same ack rather than adding one.
    const ackFile = outcome.body ? await dropX12File(options.outbound, `${stem(name)}.ack.x12`, outcome.body) : undefined;
    const allRejected = outcome.interchanges.every((i) => i.rejected);
    await moveAside(file, allRejected ? options.rejected : options.processed, name);
    for (const i of outcome.interchanges) options.sink.acknowledge(i.messageId);
    return { file: name, kind: allRejected ? 'rejected' : 'processed', messageIds: outcome.interchanges.map((i) => i.messageId), ...(ackFile ? { ackFile } : {}), duplicate: outcome.interchanges.every((i) => i.duplicate) };
  } catch (error) {
    // Stored, but the ack or the move failed: the file stays; the next poll gets the stored answer (duplicate).
    return { file: name, kind: 'left', error: classify(error) };
  }
}

/** The name without its .edi/.x12 extension: `po-1.edi` → `po-1` (its ack is `po-1.ack.x12`). */
export const stem = (name: string) => name.replace(/\.(edi|x12)$/i, '');

/**
 * A writer reusing a file name may have put new content there while the old one was being stored: moving it
 * away then would file an interchange nobody received. Such a file stays for the next poll (sftp-transport.ts
 * does the same).
 */
async function unchangedSinceListed(file: string, listed: { size: number; mtimeMs: number }): Promise<void> {
  const now = await stat(file);
  if (now.size !== listed.size || now.mtimeMs !== listed.mtimeMs) {
    throw transientError(`${file} changed while it was being received; left for the next poll`, { code: 'x12_file_changed', where: { field: file } });
  }
}

/** Moves a handled file into `dir`; a name already there (a partner reusing file names) gets a unique suffix. */
async function moveAside(file: string, dir: string, name: string): Promise<void> {
  const taken = await stat(path.join(dir, name)).then(() => true, () => false);
  await rename(file, path.join(dir, taken ? `${stem(name)}.${Date.now()}-${randomBytes(3).toString('hex')}${path.extname(name)}` : name));
}

/** Writes `body` to `<dir>/<name>` atomically: a dot-named .tmp file, fsync, rename. Returns the final path. */
export async function dropX12File(dir: string, name: string, body: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const temporary = path.join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  const final = path.join(dir, name);
  const handle = await open(temporary, 'wx');
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, final);
  return final;
}

export type X12FolderWatcher = PollLoop;

/** The watcher settings carelane.yaml gives a folder partner (`x12.partners[].folder`); poll every 5 s by default. */
export function folderWatchOptions(partner: X12PartnerProfile): Pick<X12FolderOptions, 'inbound' | 'processed' | 'rejected' | 'settleMs'> & { intervalMs: number } {
  const folder = partner.folder;
  if (!folder) throw permanentError(`x12 partner ${partner.id} has transport folder but no folder.inbound`, { code: 'config_invalid', where: { field: `x12.partners.${partner.id}.folder` } });
  return {
    inbound: folder.inbound,
    ...(folder.processed ? { processed: folder.processed } : {}),
    ...(folder.rejected ? { rejected: folder.rejected } : {}),
    ...(folder.settleMs !== undefined ? { settleMs: folder.settleMs } : {}),
    intervalMs: (folder.pollSeconds ?? 5) * 1000,
  };
}

/**
 * Polls the inbound folder every `intervalMs` (default 1000). Polling rather than fs.watch: inotify events do
 * not fire on NFS/SMB mounts, where gateways' folders often live. `onPoll` receives each poll's outcomes.
 */
export function startX12FolderWatcher(options: X12FolderOptions & { intervalMs?: number; onPoll?: (outcomes: FolderFileOutcome[]) => void; onError?: (error: CarelaneError) => void }): X12FolderWatcher {
  const settle = newSettleState();
  return startPollLoop(() => pollX12Folder(options, settle), options.intervalMs ?? 1000, options);
}
