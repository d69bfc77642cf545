import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import SftpClient from 'ssh2-sftp-client';
import { CarelaneError, classify, permanentError, transientError } from '../../contracts/errors.ts';
import type { InboundSink } from '../../contracts/inbound.ts';
import type { FolderFileOutcome, SettleState } from './folder-transport.ts';
import { newSettleState, PICKUP, stem } from './folder-transport.ts';
import type { SftpSettings, X12PartnerProfile } from './partner-profile.ts';
import { startPollLoop, type PollLoop } from './poll-loop.ts';
import { receiveX12, type ReceiveX12Options } from './receive.ts';

/**
 * X12 over SFTP, the mailbox most distributors and VANs offer (ssh2-sftp-client over ssh2).
 *
 * Pickup (one poll = one SSH connection, one pass over `inbound`):
 * - only `*.edi` / `*.x12` files, no dot-files: a partner uploading under a temporary name is never read early;
 *   a partner that writes in place is covered by the settle rule: a file is taken only once its size and
 *   modification time are the same as at the previous poll (as the folder transport does);
 * - each file is downloaded and stored through receiveX12 (DESIGN.md principle 1: persist, then acknowledge);
 *   only after the store committed is the 997/999/TA1 dropped into `outbound` and the file moved to `archive`
 *   (or deleted when there is no archive). A failure before that leaves the file where it is, so the next poll
 *   takes it again; a duplicate (same sender and ISA13) is stored once and answered with the same ack.
 *
 * Drop: upload to `.<name>.<random>.tmp` in `outbound`, then rename to `<name>`, so the partner never reads half
 * a file. SFTP v3 RENAME refuses an existing target (draft-ietf-secsh-filexfer-02 §6.5, OpenSSH does so), so a
 * retry of the same drop (same name, same bytes: the 850's ISA13 names it) removes the old copy first.
 */

/** Connection settings as ssh2 takes them; the secrets are already resolved by the config loader. */
export function sftpConnectOptions(settings: SftpSettings): SftpClient.ConnectOptions {
  if (!settings.privateKey && !settings.password) throw permanentError('sftp needs privateKey or password', { code: 'config_invalid', where: { field: 'sftp.privateKey' } });
  return {
    host: settings.host,
    port: settings.port ?? 22,
    username: settings.username,
    ...(settings.privateKey ? { privateKey: settings.privateKey } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    readyTimeout: settings.readyTimeoutMs ?? 20_000,
    // No ssh2-sftp-client retries: the engine's delivery retries and the next poll are the retry policy.
    retries: 0,
    ...(settings.hostKeySha256 ? { hostVerifier: (key: Buffer) => sshFingerprint(key) === settings.hostKeySha256 } : {}),
  };
}

/** The OpenSSH form of a host key fingerprint: "SHA256:" + unpadded base64 of the key blob's SHA-256. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

async function withSftp<T>(settings: SftpSettings, work: (sftp: SftpClient) => Promise<T>): Promise<T> {
  const sftp = new SftpClient('carelane-x12');
  try {
    await sftp.connect(sftpConnectOptions(settings));
  } catch (error) {
    // Connection refused, handshake or authentication failed: nothing was read or written.
    throw classifySftp(error, 'connect');
  }
  try {
    return await work(sftp);
  } finally {
    await sftp.end().catch(() => false);
  }
}

/**
 * Auth and host-key failures are configuration problems (permanent); anything else on the wire (refused,
 * reset, timeout, a failed write) is transient: a drop is repeatable under the same name, a pickup leaves the
 * file where it is.
 */
function classifySftp(error: unknown, step: string): CarelaneError {
  if (error instanceof CarelaneError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/authentication|host key|verification failed|handshake failed|denied/i.test(message)) {
    return permanentError(`sftp ${step}: ${message}`, { code: 'sftp_auth_failed', where: { field: 'sftp' }, cause: error });
  }
  return transientError(`sftp ${step}: ${message}`, { code: 'sftp_failed', cause: error });
}

function settingsOf(partner: X12PartnerProfile): SftpSettings {
  if (partner.transport !== 'sftp' || !partner.sftp) throw permanentError(`x12 partner ${partner.id} has no sftp settings`, { code: 'config_invalid', where: { field: `x12.partners.${partner.id}.sftp` } });
  return partner.sftp;
}

export interface X12SftpOptions extends Omit<ReceiveX12Options, 'partnerId'> {
  partner: X12PartnerProfile;
  profiles: readonly X12PartnerProfile[];
  sink: InboundSink;
}

/** One pickup pass over the partner's inbound SFTP folder; files one at a time, oldest name first. */
export async function pollX12Sftp(options: X12SftpOptions, settle: SettleState = newSettleState()): Promise<FolderFileOutcome[]> {
  const settings = settingsOf(options.partner);
  return withSftp(settings, async (sftp) => {
    const listing = (await sftp.list(settings.inbound)).filter((entry) => entry.type === '-' && PICKUP.test(entry.name)).sort((a, b) => a.name.localeCompare(b.name));
    const outcomes: FolderFileOutcome[] = [];
    for (const entry of listing) {
      const seen = settle.get(entry.name);
      settle.set(entry.name, { size: entry.size, mtimeMs: entry.modifyTime });
      if (!seen || seen.size !== entry.size || seen.mtimeMs !== entry.modifyTime) continue;
      outcomes.push(await pickUp(sftp, settings, entry.name, { size: entry.size, mtimeMs: entry.modifyTime }, options));
      settle.delete(entry.name);
    }
    for (const name of settle.keys()) if (!listing.some((entry) => entry.name === name)) settle.delete(name);
    return outcomes;
  });
}

async function pickUp(sftp: SftpClient, settings: SftpSettings, name: string, listed: { size: number; mtimeMs: number }, options: X12SftpOptions): Promise<FolderFileOutcome> {
  const remote = path.join(settings.inbound, name);
  let outcome;
  try {
    const bytes = (await sftp.get(remote)) as Buffer;
    outcome = await receiveX12(bytes, options.profiles, options.sink, { ...options, partnerId: options.partner.id });
  } catch (error) {
    return { file: name, kind: 'left', error: classifySftp(error, 'download') };
  }
  if (outcome.kind === 'not_stored') return { file: name, kind: 'left', error: outcome.error };
  // Stored: from here on, a failure only means the next poll receives a duplicate, which is harmless.
  try {
    await unchangedSinceListed(sftp, remote, listed);
    if (outcome.kind === 'unreadable') {
      await retire(sftp, settings, remote, name, 'rejected');
      options.sink.acknowledge(outcome.messageId);
      return { file: name, kind: 'rejected', messageIds: [outcome.messageId], duplicate: false };
    }
    const ackFile = outcome.body ? await dropOn(sftp, settings.outbound, `${stem(name)}.ack.x12`, outcome.body) : undefined;
    const allRejected = outcome.interchanges.every((i) => i.rejected);
    await retire(sftp, settings, remote, name, allRejected ? 'rejected' : 'processed');
    for (const i of outcome.interchanges) options.sink.acknowledge(i.messageId);
    return { file: name, kind: allRejected ? 'rejected' : 'processed', messageIds: outcome.interchanges.map((i) => i.messageId), ...(ackFile ? { ackFile } : {}), duplicate: outcome.interchanges.every((i) => i.duplicate) };
  } catch (error) {
    return { file: name, kind: 'left', error: classifySftp(error, 'archive') };
  }
}

/**
 * A partner reusing a file name may have written new content over the file while it was being stored: deleting
 * or archiving it then would drop an interchange nobody received. Such a file is left for the next poll, which
 * receives the new content (the old one is already stored; were it the same, it is a duplicate). Same size and
 * modification second still slips through (SFTP v3 times are whole seconds); a partner uploading under a
 * temporary name and renaming never hits this.
 */
async function unchangedSinceListed(sftp: SftpClient, remote: string, listed: { size: number; mtimeMs: number }): Promise<void> {
  const now = await sftp.stat(remote);
  if (now.size !== listed.size || now.modifyTime !== listed.mtimeMs) {
    throw transientError(`sftp ${remote} changed while it was being received; left for the next poll`, { code: 'sftp_file_changed', where: { field: remote } });
  }
}

/** Archive (rejected ones under archive/rejected) or delete a file whose content is stored. */
async function retire(sftp: SftpClient, settings: SftpSettings, remote: string, name: string, kind: 'processed' | 'rejected'): Promise<void> {
  if (!settings.archive) {
    await sftp.delete(remote);
    return;
  }
  const dir = kind === 'rejected' ? path.join(settings.archive, 'rejected') : settings.archive;
  if (!(await sftp.exists(dir))) await sftp.mkdir(dir, true);
  // A partner reusing a file name must not make the archive step fail forever.
  const target = (await sftp.exists(path.join(dir, name))) ? path.join(dir, `${name}.${Date.now()}-${randomBytes(3).toString('hex')}`) : path.join(dir, name);
  await sftp.rename(remote, target);
}

async function dropOn(sftp: SftpClient, dir: string, name: string, body: string): Promise<string> {
  const temporary = path.join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  const final = path.join(dir, name);
  await sftp.put(Buffer.from(body, 'utf8'), temporary);
  try {
    await sftp.rename(temporary, final);
  } catch (error) {
    if (!(await sftp.exists(final))) {
      await sftp.delete(temporary, true);
      throw error;
    }
    // The same name was dropped before (a retry of the same 850 or ack): replace it.
    await sftp.delete(final);
    await sftp.rename(temporary, final);
  }
  return final;
}

/** Drops one file into the partner's outbound SFTP folder (temp name, then rename). Returns the remote path. */
export async function dropX12Sftp(partner: X12PartnerProfile, name: string, body: string): Promise<string> {
  const settings = settingsOf(partner);
  return withSftp(settings, async (sftp) => {
    try {
      return await dropOn(sftp, settings.outbound, name, body);
    } catch (error) {
      throw classifySftp(error, 'drop');
    }
  });
}

export type X12SftpPoller = PollLoop;

/** Polls the partner's inbound folder every sftp.pollSeconds (default 60). */
export function startX12SftpPoller(options: X12SftpOptions & { intervalMs?: number; onPoll?: (outcomes: FolderFileOutcome[]) => void; onError?: (error: CarelaneError) => void }): X12SftpPoller {
  const settle = newSettleState();
  return startPollLoop(() => pollX12Sftp(options, settle), options.intervalMs ?? (options.partner.sftp?.pollSeconds ?? 60) * 1000, options);
}
