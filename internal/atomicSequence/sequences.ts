/**
 * {@link createSequences}: the `Sequences` the HTTP handlers use, in any thread, on top of the
 * shared table. Numbers are taken from shared memory; the {@link OwnerPort} is asked only for
 * names this thread has not seen, for refills, and for the store's operations, which pass through.
 *
 * @module
 */
import {
  ADMIN_OPERATIONS,
  exhausted,
  KEYED_OPERATIONS,
  type KeyedAnswers,
  retired,
  type SequenceAdmin,
  type Sequences,
  unavailable,
} from "../domain/domain.ts";
import { type SequenceTable, SlotState } from "./atomic_sequence.ts";
import type { OwnerPort, SlotRef } from "./owner.ts";

/** How long a request may wait for a block before it gets 503 (ms). */
export const BLOCK_WAIT_MS = 5_000;

/** Options of {@link createSequences}. */
export interface SequencesOptions {
  /** How long a request may wait for a block (default {@link BLOCK_WAIT_MS}). */
  waitMs?: number;
}

/**
 * The sequences over a shared table, for one thread.
 * @param table the shared table (the owner's, or attached in a worker).
 * @param owner the owner, or a proxy to it.
 */
export function createSequences(
  table: SequenceTable,
  owner: OwnerPort,
  options: SequencesOptions = {},
): Sequences {
  const slots = new Map<string, SlotRef>();
  const waitMs = options.waitMs ?? BLOCK_WAIT_MS;

  /** Takes without awaiting; `undefined` when no reserved block has room for `count`. */
  function take(ref: SlotRef, count: bigint): bigint | undefined {
    const first = table.take(ref.slot, ref.binding, count);
    if (table.refillDue) owner.refill(ref.slot);
    return first;
  }

  async function wait(name: string, count: bigint): Promise<bigint> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      let ref = slots.get(name);
      if (ref === undefined || table.binding(ref.slot) !== ref.binding) {
        // Not seen yet, or its slot was given to another sequence since: ask the owner.
        ref = await owner.resolve(name);
        slots.set(name, ref);
      }
      const { slot } = ref;
      // Read the generation before taking, so a refill finishing in between is not missed.
      const seen = table.generation(slot);
      const first = take(ref, count);
      if (first !== undefined) return first;
      if (table.binding(slot) !== ref.binding) continue;
      const state = table.state(slot);
      if (state === SlotState.Retired) {
        slots.delete(name);
        throw retired(name);
      }
      if (state === SlotState.Exhausted) throw exhausted(name, table.remaining(slot), count);
      if (state === SlotState.StoreUnavailable) {
        throw unavailable(
          `the store cannot commit a new block of ${JSON.stringify(name)}; ` +
            `retrying in the background`,
        );
      }
      // Counted as waiting before the refill is asked for, so the owner can size a block for
      // everyone already waiting (it matters with blocks of one number).
      table.addWaiting(slot, 1);
      try {
        if (table.claimRefill(slot)) owner.refill(slot);
        const left = deadline - performance.now();
        if (left <= 0) {
          throw unavailable(
            `no block of ${JSON.stringify(name)} was committed within ${waitMs} ms`,
          );
        }
        await table.waitForRefill(slot, seen, left);
      } finally {
        table.addWaiting(slot, -1);
      }
    }
  }

  const admin = {} as Record<string, unknown>;
  for (const operation of [...ADMIN_OPERATIONS, ...KEYED_OPERATIONS]) {
    admin[operation] = owner[operation].bind(owner);
  }
  return {
    ...(admin as unknown as SequenceAdmin & KeyedAnswers),
    next(name, count) {
      const ref = slots.get(name);
      if (ref !== undefined) {
        const first = take(ref, count);
        if (first !== undefined) return first;
      }
      return wait(name, count);
    },
  };
}
