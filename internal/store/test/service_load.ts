/**
 * Load on a real service process, for the end-to-end tests of the store's operations: clients
 * that take numbers until stopped and keep every complete answer, and the checks on them.
 *
 * @module
 */
import assert from "node:assert/strict";

/** One answered request: the numbers `first..last` of `sequence`. */
export interface Answer {
  /** The sequence. */
  sequence: string;
  /** First number. */
  first: bigint;
  /** Last number (`first` for a single number). */
  last: bigint;
  /** When the request was sent (`performance.now()`). */
  sentAt: number;
}

/** A request that got no number. */
export interface Failure {
  /** HTTP status, or 0 when the connection failed. */
  status: number;
  /** The body, or the connection error. */
  body: string;
  /** When the request was sent. */
  sentAt: number;
}

/** Clients taking numbers from a service. */
export interface Load {
  /** Every complete answer so far. */
  readonly answers: Answer[];
  /** Every request that got no number (the last 1,000 bodies are kept). */
  readonly failures: Failure[];
  /** How many requests got no number. */
  readonly failed: number;
  /** Stops the clients and waits for them. */
  stop(): Promise<void>;
}

/**
 * The longest a request may take before it counts as failed: generous for a loaded machine, but a
 * request that never ends fails the test instead of hanging it.
 */
const REQUEST_LIMIT_MS = 60_000;

/** Reads `number` and `last` exactly (they may exceed 2^53). */
function parseAnswer(text: string): { first: bigint; last: bigint } {
  const first = BigInt(/"number":"?(-?\d+)/.exec(text)![1]);
  const last = /"last":"?(-?\d+)/.exec(text);
  return { first, last: last ? BigInt(last[1]) : first };
}

/**
 * Starts `clients` clients on `api`, client `i` asking for `paths[i % paths.length]` (a sequence
 * name and the path that serves it) again and again until stopped.
 */
export function startLoad(api: string, paths: [string, string][], clients: number): Load {
  let stopped = false;
  let failed = 0;
  const answers: Answer[] = [];
  const failures: Failure[] = [];
  const running = Array.from({ length: clients }, async (_, c) => {
    const [sequence, path] = paths[c % paths.length];
    while (!stopped) {
      const sentAt = performance.now();
      try {
        const res = await fetch(`${api}${path}`, {
          signal: AbortSignal.timeout(REQUEST_LIMIT_MS),
        });
        const text = await res.text();
        if (res.status === 200) {
          answers.push({ sequence, ...parseAnswer(text), sentAt });
          continue;
        }
        failed++;
        failures.push({ status: res.status, body: text, sentAt });
      } catch (error) {
        failed++;
        failures.push({ status: 0, body: String(error), sentAt });
        // The process is gone or restarting: do not spin.
        await new Promise((r) => setTimeout(r, 20));
      }
      if (failures.length > 1000) failures.splice(0, failures.length - 1000);
    }
  });
  return {
    answers,
    failures,
    get failed() {
      return failed;
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** Asserts that no number was answered twice within any sequence. */
export function assertNoRepeat(answers: Answer[]): void {
  const bySequence = new Map<string, Answer[]>();
  for (const answer of answers) {
    const list = bySequence.get(answer.sequence) ?? [];
    list.push(answer);
    bySequence.set(answer.sequence, list);
  }
  for (const [sequence, list] of bySequence) {
    list.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    for (let i = 1; i < list.length; i++) {
      assert.ok(
        list[i].first > list[i - 1].last,
        `${sequence}: ${list[i - 1].first}..${list[i - 1].last} and ` +
          `${list[i].first}..${list[i].last} overlap`,
      );
    }
  }
}

/** The largest number answered per sequence. */
export function highest(answers: Answer[]): Map<string, bigint> {
  const top = new Map<string, bigint>();
  for (const answer of answers) {
    if (answer.last > (top.get(answer.sequence) ?? answer.last - 1n)) {
      top.set(answer.sequence, answer.last);
    }
  }
  return top;
}

/** Sends `init` to `url` and returns the status and the body's text. */
export async function request(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_LIMIT_MS), ...init });
  return { status: res.status, text: await res.text() };
}
