import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Payload bodies are never logged: log lines carry ids, types, lanes and
 * correlation ids only. The redact list is a second line of defence for fields that must not leak.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'carelane' },
      redact: { paths: ['payload', '*.payload', 'authorization', '*.authorization', 'headers.authorization', 'token', '*.token'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
