/**
 * Structured logging: one JSON object per line on stdout.
 *
 * @module
 */

/** Severity of a log line. */
export type Level = "debug" | "info" | "warn" | "error";

/** Writes structured log lines. */
export interface Logger {
  /** Logs a routine event. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Logs something that needs attention but does not stop the service. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Logs a failure. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** Formats one log line (without the newline); bigints become exact decimal strings. */
export function formatLine(
  level: Level,
  msg: string,
  fields: Record<string, unknown> = {},
  now: Date = new Date(),
): string {
  return JSON.stringify({ time: now.toISOString(), level, msg, ...fields }, replacer);
}

/** A logger that writes each line through `write` (stdout by default). */
export function createLogger(
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  return {
    info: (msg, fields) => write(formatLine("info", msg, fields)),
    warn: (msg, fields) => write(formatLine("warn", msg, fields)),
    error: (msg, fields) => write(formatLine("error", msg, fields)),
  };
}

/** A logger that drops every line (for tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
