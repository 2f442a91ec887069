/**
 * What the HTTP handlers use: {@link SequenceService}. {@link SequenceClient} implements it in any
 * thread on top of the shared table, asking the {@link OwnerPort} only for names it has not seen
 * and for refills.
 *
 * @module
 */
import {
  type CreateResult,
  SequenceExhaustedError,
  type SequenceRecord,
  StoreUnavailableError,
} from "../store/store.ts";
import { Flag, SequenceTable, SlotState } from "./atomic_sequence.ts";
import type { OwnerPort } from "./owner.ts";

/** The sequences as the API sees them. */
export interface SequenceService {
  /**
   * Hands out `count` consecutive numbers of `name` and returns the first; every one of them was
   * durably reserved before this resolves and is never handed out again.
   * @throws {SequenceNotFoundError} unknown name.
   * @throws {SequenceExhaustedError} fewer than `count` numbers remain below the 64-bit maximum.
   * @throws {StoreUnavailableError} a new block was needed and the store could not commit it.
   */
  next(name: string, count: bigint): Promise<bigint>;
  /** The slot of `name` if this thread already knows it (a fast path for hot handlers). */
  knownSlot(name: string): number | undefined;
  /**
   * Takes from a known slot without awaiting anything; `undefined` when the caller must fall back
   * to {@link next} (no block ready, or the store is failing).
   */
  takeNow(slot: number, count: bigint): bigint | undefined;
  /** Creates a sequence; see {@link Store.create}. */
  create(name: string, start: bigint): Promise<CreateResult>;
  /** One sequence as stored, without consuming a number; `undefined` when unknown. */
  info(name: string): Promise<SequenceRecord | undefined>;
  /** Every sequence as stored. */
  list(): Promise<SequenceRecord[]>;
  /** True when the service can hand out numbers (store open and answering, not shutting down). */
  ready(): boolean;
}

/** How long a request may wait for a block before it gets 503 (ms). */
export const BLOCK_WAIT_MS = 5_000;

/** A {@link SequenceService} over a shared table; one per thread. */
export class SequenceClient implements SequenceService {
  readonly #table: SequenceTable;
  readonly #owner: OwnerPort;
  readonly #slots = new Map<string, number>();
  readonly #waitMs: number;

  /**
   * @param table the shared table (the owner's, or attached in a worker).
   * @param owner the owner, or a proxy to it.
   */
  constructor(table: SequenceTable, owner: OwnerPort, waitMs: number = BLOCK_WAIT_MS) {
    this.#table = table;
    this.#owner = owner;
    this.#waitMs = waitMs;
  }

  /** The slot of a name this thread has used before. */
  knownSlot(name: string): number | undefined {
    return this.#slots.get(name);
  }

  /** Takes without awaiting; see {@link SequenceService.takeNow}. */
  takeNow(slot: number, count: bigint): bigint | undefined {
    const table = this.#table;
    const first = table.take(slot, count);
    if (table.refillDue) this.#owner.refill(slot);
    return first;
  }

  /** Hands out numbers; see {@link SequenceService.next}. */
  async next(name: string, count: bigint): Promise<bigint> {
    let slot = this.#slots.get(name);
    if (slot === undefined) {
      slot = await this.#owner.resolve(name);
      this.#slots.set(name, slot);
    }
    const table = this.#table;
    const deadline = performance.now() + this.#waitMs;
    for (;;) {
      // Read the generation before taking, so a refill finishing in between is not missed.
      const seen = table.generation(slot);
      const first = this.takeNow(slot, count);
      if (first !== undefined) return first;
      const state = table.state(slot);
      if (state === SlotState.Exhausted) throw new SequenceExhaustedError(name);
      if (state === SlotState.StoreUnavailable) {
        throw new StoreUnavailableError(
          `the store cannot commit a new block of ${
            JSON.stringify(name)
          }; retrying in the background`,
        );
      }
      // Counted as waiting before the refill is asked for, so the owner can size a block for
      // everyone already waiting (it matters with blocks of one number).
      table.addWaiting(slot, 1);
      try {
        if (table.claimRefill(slot)) this.#owner.refill(slot);
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new StoreUnavailableError(
            `no block of ${JSON.stringify(name)} was committed within ${this.#waitMs} ms`,
          );
        }
        await table.waitForRefill(slot, seen, left);
      } finally {
        table.addWaiting(slot, -1);
      }
    }
  }

  /** Creates a sequence through the owner. */
  create(name: string, start: bigint): Promise<CreateResult> {
    return this.#owner.create(name, start);
  }

  /** One sequence as stored. */
  info(name: string): Promise<SequenceRecord | undefined> {
    return this.#owner.info(name);
  }

  /** Every sequence as stored. */
  list(): Promise<SequenceRecord[]> {
    return this.#owner.list();
  }

  /** Ready and not shutting down. */
  ready(): boolean {
    return this.#table.flag(Flag.Ready) === 1 && this.#table.flag(Flag.ShuttingDown) === 0;
  }
}
