import { timingSafeEqual } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

/**
 * A partner's SFTP mailbox for tests and the demo: a real SSH-2 server (ssh2's Server) with the SFTP v3
 * subsystem serving one local directory as `/`. It authenticates one user by public key or password and keeps
 * the OpenSSH behaviours Carelane relies on: RENAME refuses an existing target, REMOVE of a missing file fails,
 * listings hide nothing (dot-files included). Loopback only.
 */
export interface SftpServerOptions {
  root: string;
  username: string;
  password?: string;
  /** the client's public key (OpenSSH "ssh-ed25519 AAAA…" line) */
  publicKey?: string;
  /** the server's private host key (OpenSSH/PEM) */
  hostKey: string;
  port?: number;
}

export interface SftpServer {
  port: number;
  /** authenticated sessions so far */
  logins: number;
  /** SFTP requests served, by type (OPEN, RENAME, REMOVE …) */
  requests: Map<string, number>;
  close(): Promise<void>;
}

export async function startSftpServer(options: SftpServerOptions): Promise<SftpServer> {
  const allowed = options.publicKey ? utils.parseKey(options.publicKey) : undefined;
  if (allowed instanceof Error) throw allowed;
  const state: SftpServer = { port: 0, logins: 0, requests: new Map(), close: async () => {} };
  const count = (type: string) => state.requests.set(type, (state.requests.get(type) ?? 0) + 1);
  const local = (remote: string): string => {
    const normal = path.posix.normalize(`/${remote}`);
    return path.join(options.root, normal);
  };

  const server = new Server({ hostKeys: [options.hostKey] }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (ctx.username !== options.username) return ctx.reject();
      if (ctx.method === 'password' && options.password !== undefined) {
        const given = Buffer.from(ctx.password);
        const expected = Buffer.from(options.password);
        return given.length === expected.length && timingSafeEqual(given, expected) ? ctx.accept() : ctx.reject();
      }
      if (ctx.method === 'publickey' && allowed && !Array.isArray(allowed)) {
        const sameKey = ctx.key.algo === allowed.type && ctx.key.data.length === allowed.getPublicSSH().length && timingSafeEqual(ctx.key.data, allowed.getPublicSSH());
        if (!sameKey) return ctx.reject();
        // First round: "would this key do?"; second: the signature proving the client holds the private key.
        if (!ctx.signature) return ctx.accept();
        return ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) ? ctx.accept() : ctx.reject();
      }
      return ctx.reject();
    });
    client.on('ready', () => {
      state.logins++;
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const files = new Map<number, { fd: number }>();
          const dirs = new Map<number, { path: string; done: boolean }>();
          let nextHandle = 1;
          const handleOf = (buffer: Buffer) => buffer.readUInt32BE(0);
          const newHandle = () => {
            const buffer = Buffer.alloc(4);
            buffer.writeUInt32BE(nextHandle++);
            return buffer;
          };
          const fail = (reqid: number, code = STATUS_CODE.FAILURE) => sftp.status(reqid, code);
          const attrsOf = async (file: string) => {
            const info = await stat(file);
            return { mode: info.mode, uid: info.uid, gid: info.gid, size: info.size, atime: Math.floor(info.atimeMs / 1000), mtime: Math.floor(info.mtimeMs / 1000) };
          };
          sftp.on('REALPATH', (reqid, remote) => {
            count('REALPATH');
            const normal = path.posix.normalize(`/${remote}`);
            sftp.name(reqid, [{ filename: normal, longname: normal, attrs: {} as never }]);
          });
          sftp.on('OPEN', (reqid, remote, flags) => {
            count('OPEN');
            const mode = utils.sftp.flagsToString(flags);
            try {
              const fd = openSync(local(remote), mode ?? 'r');
              const handle = newHandle();
              files.set(handleOf(handle), { fd });
              sftp.handle(reqid, handle);
            } catch (error) {
              fail(reqid, (error as NodeJS.ErrnoException).code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE);
            }
          });
          sftp.on('READ', (reqid, handle, offset, length) => {
            const file = files.get(handleOf(handle));
            if (!file) return fail(reqid);
            const buffer = Buffer.alloc(length);
            const read = readSync(file.fd, buffer, 0, length, offset);
            if (read === 0) return sftp.status(reqid, STATUS_CODE.EOF);
            sftp.data(reqid, buffer.subarray(0, read));
          });
          sftp.on('WRITE', (reqid, handle, offset, data) => {
            const file = files.get(handleOf(handle));
            if (!file) return fail(reqid);
            writeSync(file.fd, data, 0, data.length, offset);
            sftp.status(reqid, STATUS_CODE.OK);
          });
          sftp.on('CLOSE', (reqid, handle) => {
            const id = handleOf(handle);
            const file = files.get(id);
            if (file) closeSync(file.fd);
            files.delete(id);
            dirs.delete(id);
            sftp.status(reqid, STATUS_CODE.OK);
          });
          sftp.on('FSTAT', (reqid, handle) => {
            const file = files.get(handleOf(handle));
            if (!file) return fail(reqid);
            const info = fstatSync(file.fd);
            sftp.attrs(reqid, { mode: info.mode, uid: info.uid, gid: info.gid, size: info.size, atime: Math.floor(info.atimeMs / 1000), mtime: Math.floor(info.mtimeMs / 1000) });
          });
          for (const event of ['STAT', 'LSTAT'] as const) {
            sftp.on(event, (reqid: number, remote: string) => {
              count(event);
              attrsOf(local(remote)).then(
                (attrs) => sftp.attrs(reqid, attrs),
                () => fail(reqid, STATUS_CODE.NO_SUCH_FILE),
              );
            });
          }
          sftp.on('OPENDIR', (reqid, remote) => {
            count('OPENDIR');
            stat(local(remote)).then(
              (info) => {
                if (!info.isDirectory()) return fail(reqid, STATUS_CODE.NO_SUCH_FILE);
                const handle = newHandle();
                dirs.set(handleOf(handle), { path: local(remote), done: false });
                sftp.handle(reqid, handle);
              },
              () => fail(reqid, STATUS_CODE.NO_SUCH_FILE),
            );
          });
          sftp.on('READDIR', (reqid, handle) => {
            const dir = dirs.get(handleOf(handle));
            if (!dir) return fail(reqid);
            if (dir.done) return sftp.status(reqid, STATUS_CODE.EOF);
            dir.done = true;
            void (async () => {
              const names = await readdir(dir.path);
              const entries = [];
              for (const name of names) {
                const attrs = await attrsOf(path.join(dir.path, name));
                const kind = (attrs.mode & 0o170000) === 0o040000 ? 'd' : '-';
                entries.push({ filename: name, longname: `${kind}rw-r--r-- 1 sftp sftp ${attrs.size} Jan 1 00:00 ${name}`, attrs });
              }
              sftp.name(reqid, entries);
            })().catch(() => fail(reqid));
          });
          sftp.on('RENAME', (reqid, from, to) => {
            count('RENAME');
            void (async () => {
              // SFTP v3 / OpenSSH: renaming onto an existing name fails (no overwrite).
              if (await stat(local(to)).then(() => true, () => false)) return fail(reqid);
              await rename(local(from), local(to));
              sftp.status(reqid, STATUS_CODE.OK);
            })().catch(() => fail(reqid, STATUS_CODE.NO_SUCH_FILE));
          });
          sftp.on('REMOVE', (reqid, remote) => {
            count('REMOVE');
            void (async () => {
              await stat(local(remote));
              await rm(local(remote));
              sftp.status(reqid, STATUS_CODE.OK);
            })().catch(() => fail(reqid, STATUS_CODE.NO_SUCH_FILE));
          });
          sftp.on('MKDIR', (reqid, remote) => {
            count('MKDIR');
            mkdir(local(remote)).then(
              () => sftp.status(reqid, STATUS_CODE.OK),
              () => fail(reqid),
            );
          });
          sftp.on('SETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
          sftp.on('FSETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
