import { readFileSync } from 'node:fs';
import type { TlsFilesConfig } from './schema.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
  requestClientCert: boolean;
}

/** Reads a `tls` section's files at start-up, so a missing or unreadable file stops start-up with its key named. */
export function readTlsFiles(at: string, settings: TlsFilesConfig): TlsMaterial {
  const read = (key: 'cert' | 'key' | 'ca', file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${at}.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return {
    cert: read('cert', settings.cert),
    key: read('key', settings.key),
    ca: settings.ca ? read('ca', settings.ca) : undefined,
    requestClientCert: settings.requestClientCert,
  };
}
