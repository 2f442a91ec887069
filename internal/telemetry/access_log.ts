/**
 * The access log (`LOG_REQUESTS=true`, off by default): one JSON line per API request, through
 * the service's logger, with `msg` `request` and the fields
 *
 * | field | what |
 * | --- | --- |
 * | `method` | the request method, at most {@link LOG_METHOD_MAX} characters |
 * | `path` | the path without the query, at most {@link LOG_PATH_MAX} characters (then `…`) |
 * | `status` | the answer's status (500 when the handler threw) |
 * | `ms` | milliseconds until the answer was ready (its body may still be on its way) |
 * | `sequence` | the sequence named by the path (`default` for `/v1/sequence`), when it names one |
 * | `count` | the `count` query parameter, when given (a number, or the text as sent, cut) |
 *
 * Nothing else of the request is read: no header (so never the `Authorization` token), no
 * other query parameter, no body. Every field is bounded, whatever a client sends. When the log
 * is off the handler is not wrapped at all.
 *
 * Lines have the logger's format (`formatLine`) but are written in batches ({@link stdoutLines}):
 * one write per 50 ms or 64 KiB instead of one per request. A thread that crashes loses the lines
 * of its last 50 ms at most.
 *
 * @module
 */
import type { RequestHandler } from "../http/router.ts";
import { formatLine } from "../log/log.ts";

/** Longest path a line keeps, in characters. */
export const LOG_PATH_MAX = 200;

/** Longest method a line keeps (the longest registered HTTP method has 17 characters). */
export const LOG_METHOD_MAX = 20;

/** Longest sequence name (the domain's rule), and longest `count` text, a line keeps. */
const SEQUENCE_MAX = 64;
const COUNT_MAX = 20;

/** The API's paths that name a sequence, and the group holding its name. */
const SEQUENCE_PATH = /^\/v1\/sequences?\/([^/]+)$/;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What one request line says about the target: path, sequence, count. */
export function describeTarget(url: string): { path: string; sequence?: string; count?: unknown } {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  const target = slash < 0 ? "/" : url.slice(slash);
  const mark = target.indexOf("?");
  const path = mark < 0 ? target : target.slice(0, mark);
  const fields: { path: string; sequence?: string; count?: unknown } = {
    path: cut(path, LOG_PATH_MAX),
  };
  const named = SEQUENCE_PATH.exec(path)?.[1];
  if (named !== undefined) {
    let name = named;
    try {
      name = decodeURIComponent(named);
    } catch { /* not valid percent-encoding: logged as sent */ }
    fields.sequence = cut(name, SEQUENCE_MAX);
  } else if (path === "/v1/sequence") {
    fields.sequence = "default";
  }
  if (mark >= 0) {
    const count = new URLSearchParams(target.slice(mark + 1)).get("count");
    if (count !== null) {
      fields.count = /^[1-9]\d{0,8}$/.test(count) ? Number(count) : cut(count, COUNT_MAX);
    }
  }
  return fields;
}

/** Where access-log lines go. */
export interface LineSink {
  /** Takes one line (without its newline). */
  push(line: string): void;
  /** Writes what is held now. */
  flush(): void;
}

/** Options of {@link stdoutLines}. */
export interface LineBufferOptions {
  /** Most milliseconds a line waits before it is written (default 50). */
  flushMs?: number;
  /** Held bytes (UTF-16 units) that trigger a write at once (default 64 KiB). */
  maxChars?: number;
  /** Writes bytes whole (default: standard output). */
  write?: (bytes: Uint8Array) => void;
}

function writeStdout(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Lines held and written in one go every `flushMs` or once `maxChars` are held, so a busy API
 * makes one write per batch instead of one per request. The timer does not keep the thread alive;
 * call {@link LineSink.flush} before the thread ends.
 */
export function stdoutLines(options: LineBufferOptions = {}): LineSink {
  const flushMs = options.flushMs ?? 50;
  const maxChars = options.maxChars ?? 64 * 1024;
  const write = options.write ?? writeStdout;
  const encoder = new TextEncoder();
  let held: string[] = [];
  let chars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (held.length === 0) return;
    const text = held.join("\n") + "\n";
    held = [];
    chars = 0;
    write(encoder.encode(text));
  };
  return {
    push(line) {
      held.push(line);
      chars += line.length + 1;
      if (chars >= maxChars) flush();
      else if (timer === undefined) {
        const started = setTimeout(flush, flushMs);
        Deno.unrefTimer(started);
        timer = started;
      }
    },
    flush,
  };
}

/** Options of {@link logRequests}. */
export interface AccessLogOptions {
  /** Where the lines go. */
  sink: LineSink;
  /** The clock, milliseconds (default `performance.now`). */
  now?: () => number;
}

/** `handler`, writing one access-log line per request once its answer is ready. */
export function logRequests(handler: RequestHandler, options: AccessLogOptions): RequestHandler {
  const { sink } = options;
  const now = options.now ?? (() => performance.now());
  return (req, peer) => {
    const started = now();
    const line = (status: number) => {
      let target;
      try {
        target = describeTarget(req.url);
      } catch {
        target = { path: "(invalid URL)" };
      }
      sink.push(formatLine("info", "request", {
        method: cut(req.method, LOG_METHOD_MAX),
        ...target,
        status,
        ms: Math.round((now() - started) * 1000) / 1000,
      }));
    };
    let answer: Response | Promise<Response>;
    try {
      answer = handler(req, peer);
    } catch (error) {
      line(500);
      throw error;
    }
    if (answer instanceof Response) {
      line(answer.status);
      return answer;
    }
    return answer.then((response) => {
      line(response.status);
      return response;
    }, (error) => {
      line(500);
      throw error;
    });
  };
}
