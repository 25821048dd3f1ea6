/**
 * Structured logs: one JSON object per line on stderr, never on stdout (stdout may carry protocol
 * traffic when the proxy is itself run under a stdio client). Every line has `time`, `level`, `msg`
 * and the fields bound with `child()` (server, session, request id, backend state...).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields`. */
  child(fields: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go. @default process.stderr */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const record: Record<string, unknown> = { time: now().toISOString(), level, msg, ...bound, ...fields };
    for (const [key, value] of Object.entries(record)) {
      if (value instanceof Error) record[key] = { name: value.name, message: value.message };
    }
    write(JSON.stringify(record) + '\n');
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
    isEnabled: (level) => RANK[level] >= min,
  };
}

/** A logger that drops everything (tests that assert on behaviour, not on logs). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} });
