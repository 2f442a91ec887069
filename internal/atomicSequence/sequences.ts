/**
 * {@link createSequences}: the `Sequences` the HTTP handlers use, in any thread, on top of the
 * shared table. Numbers are taken from shared memory; the {@link OwnerPort} is asked only for
 * names this thread has not seen, for refills, and for the store's operations, which pass through.
 *
 * A sequence with numbering settings keeps, in this thread, a `PeriodTracker` (its current period
 * and format, and until when they hold): a take reads the clock, compares it with that instant,
 * and takes from the slot of the current period's sub-sequence (`inv@2026`), so every number
 * belongs to the period the clock was in at the take. Sequences without settings take the path
 * they always took, with nothing added.
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
  type Stamp,
  type Taken,
  unavailable,
} from "../domain/domain.ts";
import { processClock } from "../period/clock.ts";
import { periodName, PeriodTracker } from "../period/period.ts";
import { type SequenceTable, SlotState } from "./atomic_sequence.ts";
import type { OwnerPort, SlotRef } from "./owner.ts";

/** How long a request may wait for a block before it gets 503 (ms). */
export const BLOCK_WAIT_MS = 5_000;

/** Options of {@link createSequences}. */
export interface SequencesOptions {
  /** How long a request may wait for a block (default {@link BLOCK_WAIT_MS}). */
  waitMs?: number;
  /**
   * The clock deciding periods (ms since the epoch; default the process's, see
   * `period/clock.ts`).
   */
  now?: () => number;
}

/** A sequence with numbering settings, as this thread takes from it. */
interface Numbered {
  tracker: PeriodTracker;
  /** The slot numbers are taken from: its own, or its period's; `undefined` until resolved. */
  ref: SlotRef | undefined;
  /** The period `ref` belongs to (`undefined` without periods). */
  period: string | undefined;
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
  const numbered = new Map<string, Numbered>();
  const waitMs = options.waitMs ?? BLOCK_WAIT_MS;
  const now = options.now ?? processClock();

  /** Takes without awaiting; `undefined` when no reserved block has room for `count`. */
  function take(ref: SlotRef, count: bigint): bigint | undefined {
    const first = table.take(ref.slot, ref.binding, count);
    if (table.refillDue) owner.refill(ref.slot);
    return first;
  }

  /** Takes from a sequence with settings without awaiting; `undefined` when it cannot. */
  function takeNumbered(state: Numbered, count: bigint): Taken | undefined {
    const stamp = state.tracker.at(now());
    if (state.ref === undefined || stamp.period !== state.period) return undefined;
    const first = take(state.ref, count);
    return first === undefined ? undefined : { first, stamp };
  }

  /**
   * The slot `name` takes from now and, for a sequence with settings, the stamp of the take:
   * resolved through the owner when this thread has not seen the name (or its period) yet, or
   * its slot was given to another sequence since.
   */
  async function slotOf(name: string): Promise<{ ref: SlotRef; stamp: Stamp | undefined }> {
    for (;;) {
      const ref = slots.get(name);
      if (ref !== undefined && table.binding(ref.slot) === ref.binding) {
        return { ref, stamp: undefined };
      }
      const state = numbered.get(name);
      if (state === undefined) {
        const resolved = await owner.resolve(name);
        if ("slot" in resolved) {
          slots.set(name, resolved);
          return { ref: resolved, stamp: undefined };
        }
        slots.delete(name);
        numbered.set(name, {
          tracker: new PeriodTracker(resolved.numbering),
          ref: resolved.ref,
          period: undefined,
        });
        continue;
      }
      const stamp = state.tracker.at(now());
      if (
        state.ref !== undefined && stamp.period === state.period &&
        table.binding(state.ref.slot) === state.ref.binding
      ) {
        return { ref: state.ref, stamp };
      }
      if (!state.tracker.periodic) {
        // Its slot was given to another sequence: resolve the name again.
        numbered.delete(name);
        continue;
      }
      const resolved = await owner.resolve(periodName(name, stamp.period!));
      if (numbered.get(name) !== state || !("slot" in resolved)) continue;
      // The clock may have moved on while resolving: the loop looks again before using it.
      state.ref = resolved;
      state.period = stamp.period;
    }
  }

  async function wait(name: string, count: bigint): Promise<Taken> {
    const deadline = performance.now() + waitMs;
    let revived = false;
    for (;;) {
      const { ref, stamp } = await slotOf(name);
      const { slot } = ref;
      // Read the generation before taking, so a refill finishing in between is not missed.
      const seen = table.generation(slot);
      const first = take(ref, count);
      if (first !== undefined) return stamp === undefined ? first : { first, stamp };
      if (table.binding(slot) !== ref.binding) continue;
      const state = table.state(slot);
      if (state === SlotState.Retired) {
        slots.delete(name);
        // A sequence with settings looks once more: retired and created again, it has other
        // settings or a new period's sub-sequence; still retired, resolving says so.
        if (numbered.delete(name) && !revived) {
          revived = true;
          continue;
        }
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
      } else {
        const state = numbered.get(name);
        if (state !== undefined) {
          const taken = takeNumbered(state, count);
          if (taken !== undefined) return taken;
        }
      }
      return wait(name, count);
    },
  };
}
