/**
 * The storage interface behind every sequence. A store keeps, per sequence, its start and its
 * committed upper bound: the highest number that may ever be handed out. `reserve` moves the bound
 * up in one durable, atomic step and returns the block that lies below it; the allocator hands out
 * numbers only from reserved blocks, so nothing answered can be answered again after a crash.
 *
 * Implementations: `sqlite_store.ts` (embedded, the default) and `postgres_store.ts` (shared by
 * replicas). Both pass the same contract tests in `test/store_contract.ts`.
 *
 * @module
 */

/** Largest signed 64-bit integer: no sequence goes past it. */
export const INT64_MAX = 9223372036854775807n;
/** Smallest signed 64-bit integer. */
export const INT64_MIN = -9223372036854775808n;
/**
 * Smallest start a sequence may have: {@link INT64_MIN} + 1, because a new sequence's bound is
 * `start - 1`, which must itself be a signed 64-bit integer.
 */
export const START_MIN = INT64_MIN + 1n;

/** What a store knows of one sequence. */
export interface SequenceRecord {
  /** Name, 1–64 characters of `[A-Za-z0-9._-]`. */
  name: string;
  /** First number of the sequence. */
  start: bigint;
  /** Committed bound: every number handed out is `<= upper`; `start - 1` before the first block. */
  upper: bigint;
}

/** A block of consecutive numbers `first..last` (inclusive) that is now durably reserved. */
export interface Block {
  /** First number of the block. */
  first: bigint;
  /** Last number of the block (inclusive). */
  last: bigint;
}

/** Outcome of {@link Store.create}. */
export interface CreateResult {
  /** True when this call created the sequence; false when it already existed. */
  created: boolean;
  /** The sequence as stored (for an existing one, its original start). */
  record: SequenceRecord;
}

/** The store failed (unreachable, read-only, full, corrupt): the caller answers 503. */
export class StoreUnavailableError extends Error {
  /** @param message what failed. @param options the underlying error as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** The named sequence does not exist. */
export class SequenceNotFoundError extends Error {
  /** @param name the sequence that was asked for. */
  constructor(readonly sequence: string) {
    super(`sequence ${JSON.stringify(sequence)} does not exist`);
    this.name = "SequenceNotFoundError";
  }
}

/** The sequence has handed out every number up to {@link INT64_MAX}. */
export class SequenceExhaustedError extends Error {
  /** @param name the exhausted sequence. */
  constructor(readonly sequence: string) {
    super(
      `sequence ${JSON.stringify(sequence)} is exhausted: it has reached ${INT64_MAX}, ` +
        `the largest signed 64-bit integer`,
    );
    this.name = "SequenceExhaustedError";
  }
}

/** Durable storage of sequences and their committed bounds. */
export interface Store {
  /** Which store this is, for logs and the debug page (`sqlite`, `postgres`). */
  readonly kind: string;
  /**
   * Durably raises the bound of `name` by up to `size` (less only at {@link INT64_MAX}) and returns
   * the block below the new bound. Resolves only after the commit is durable.
   * @throws {SequenceNotFoundError} unknown name.
   * @throws {SequenceExhaustedError} the bound is already {@link INT64_MAX}.
   * @throws {StoreUnavailableError} the commit failed; nothing was reserved.
   */
  reserve(name: string, size: bigint): Promise<Block>;
  /**
   * Creates `name` starting at `start` (bound `start - 1`) unless it exists; never changes an
   * existing sequence. Safe when several processes create the same name at once.
   */
  create(name: string, start: bigint): Promise<CreateResult>;
  /** One sequence, or `undefined`. */
  get(name: string): Promise<SequenceRecord | undefined>;
  /** Every sequence, ordered by name. */
  list(): Promise<SequenceRecord[]>;
  /** Resolves when the store answers; throws {@link StoreUnavailableError} otherwise. */
  ping(): Promise<void>;
  /** Releases files and connections. */
  close(): Promise<void>;
}

/** The sequence served by `GET /v1/sequence`; it always exists, starting at 1. */
export const DEFAULT_SEQUENCE = "default";

/** Valid sequence names: 1–64 characters of `[A-Za-z0-9._-]`, starting with a letter or digit. */
export const SEQUENCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The new bound after reserving `size` above `upper`, clamped at {@link INT64_MAX}; `undefined`
 * when `upper` is already at the maximum. Pure; shared by the stores so they agree exactly.
 */
export function raiseBound(upper: bigint, size: bigint): bigint | undefined {
  if (size < 1n) throw new RangeError(`size=${size} is invalid: must be at least 1`);
  if (upper >= INT64_MAX) return undefined;
  return INT64_MAX - upper < size ? INT64_MAX : upper + size;
}
