/**
 * The in-memory step of handing out numbers: a table of sequence cursors in a `SharedArrayBuffer`,
 * so the main thread and every worker thread take numbers from the same blocks with `Atomics`.
 *
 * Each slot holds the current block (`next..limit`) and one standby block (Leaf's double buffer).
 * Blocks are installed only after the store has committed them, so every number a slot can hand
 * out is durably reserved. A take is a few loads and stores under a per-slot spin lock that is
 * held for nanoseconds and never across an `await`; it never touches the store.
 *
 * A slot is bound to one sequence at a time; its binding number changes whenever the owner gives
 * the slot to another sequence, and a take with an old binding takes nothing, so a thread that
 * still remembers the old name never takes another sequence's numbers.
 *
 * @module
 */

/** Words per slot in the 64-bit view. */
const BIG_WORDS = 9;
// The current block is LAST_OUT+1..LIMIT. The last number handed out is kept rather than the next
// one, so no stored value ever exceeds the 64-bit maximum (the next after INT64_MAX would wrap).
const LAST_OUT = 0; // last number handed out from the current block
const LIMIT = 1; // last number (inclusive) of the current block
const STANDBY_FIRST = 2; // standby block, valid while STANDBY_EMPTY is 0
const STANDBY_LAST = 3;
const DEMAND = 4; // the largest count a waiting taker needs, 0 when none
const TAKEN = 5; // numbers handed out from blocks before the current one (for metrics)
const INSTALLED_LAST = 6; // last number of the newest block installed; valid once INSTALLED is 1
const CURRENT_FIRST = 7; // first number of the current block (LAST_OUT + 1 before any take)
const PREVIOUS_LAST = 8; // last number handed out from the blocks before the current one

/** Words per slot in the 32-bit view. */
const INT_WORDS = 8;
const LOCK = 0; // spin lock: 0 free, 1 held
const REFILL = 1; // 1 while a refill is requested or running
const GEN = 2; // bumped (and notified) whenever the owner installs a block or records a state
const STATE = 3; // SlotState
const INSTALLED = 4; // 1 once a block has been installed
const WAITING = 5; // takers in any thread waiting for this slot's next block
const BINDING = 6; // changes whenever the slot is given to another sequence
const STANDBY_EMPTY = 7; // 1 while the standby block is empty

/** Why a slot cannot hand out numbers right now. */
export const SlotState = {
  /** Working normally. */
  Ok: 0,
  /** The last reservation failed: the store is unavailable. */
  StoreUnavailable: 1,
  /** The store's bound reached the 64-bit maximum. */
  Exhausted: 2,
  /** The sequence was retired: it hands out nothing, ever again. */
  Retired: 3,
} as const;

/** One of the {@link SlotState} values. */
export type SlotStateValue = (typeof SlotState)[keyof typeof SlotState];

/** The shared memory behind a {@link SequenceTable}; pass it to workers with `postMessage`. */
export interface SequenceTableMemory {
  /** 64-bit words: cursors and blocks. */
  big: SharedArrayBuffer;
  /** 32-bit words: locks, refill flags, generations, states and bindings. */
  ints: SharedArrayBuffer;
}

/**
 * A fixed-capacity table of sequence slots in shared memory. Create it once (owner), share its
 * {@link SequenceTableMemory} with workers, and open it there with {@link SequenceTable.attach}.
 */
export class SequenceTable {
  /** The shared memory, for `postMessage`. */
  readonly memory: SequenceTableMemory;
  /** How many slots the table has. */
  readonly capacity: number;
  readonly #big: BigInt64Array;
  readonly #ints: Int32Array;

  /** Creates a table with `capacity` empty slots. */
  static create(capacity: number): SequenceTable {
    return new SequenceTable({
      big: new SharedArrayBuffer(capacity * BIG_WORDS * 8),
      ints: new SharedArrayBuffer(capacity * INT_WORDS * 4),
    }, true);
  }

  /** Opens a table created elsewhere (in a worker). */
  static attach(memory: SequenceTableMemory): SequenceTable {
    return new SequenceTable(memory, false);
  }

  private constructor(memory: SequenceTableMemory, initialise: boolean) {
    this.memory = memory;
    this.#big = new BigInt64Array(memory.big);
    this.#ints = new Int32Array(memory.ints);
    this.capacity = this.#big.length / BIG_WORDS;
    if (initialise) {
      for (let slot = 0; slot < this.capacity; slot++) this.#empty(slot);
    }
  }

  /** Empty blocks, nothing taken (call under the lock, or before sharing). */
  #empty(slot: number): void {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#big[b + LAST_OUT] = 0n;
    this.#big[b + LIMIT] = 0n;
    this.#big[b + CURRENT_FIRST] = 1n;
    this.#big[b + STANDBY_FIRST] = 1n;
    this.#big[b + STANDBY_LAST] = 0n;
    this.#big[b + DEMAND] = 0n;
    this.#big[b + TAKEN] = 0n;
    this.#big[b + PREVIOUS_LAST] = 0n;
    this.#ints[i + INSTALLED] = 0;
    this.#ints[i + STANDBY_EMPTY] = 1;
  }

  #lock(i: number): void {
    // Held only for a handful of loads and stores, never across an await: spinning is cheaper
    // than any blocking primitive, and Atomics.wait is not allowed on the main thread.
    while (Atomics.compareExchange(this.#ints, i + LOCK, 0, 1) !== 0) { /* spin */ }
  }

  #unlock(i: number): void {
    Atomics.store(this.#ints, i + LOCK, 0);
  }

  /** Numbers handed out from the current block (under the lock). */
  #handedFromCurrent(b: number): bigint {
    const handed = this.#big[b + LAST_OUT] - this.#big[b + CURRENT_FIRST] + 1n;
    return handed > 0n ? handed : 0n;
  }

  /** Closes the current block's account before it is left (under the lock). */
  #leaveCurrent(b: number): void {
    const handed = this.#handedFromCurrent(b);
    if (handed === 0n) return;
    this.#big[b + TAKEN] += handed;
    this.#big[b + PREVIOUS_LAST] = this.#big[b + LAST_OUT];
  }

  /**
   * Takes `count` consecutive numbers from `slot`, bound as `binding`, and returns the first, or
   * `undefined` when neither the current nor the standby block holds `count` numbers (the caller
   * then requests a refill and waits) or the slot is no longer bound as `binding`. Switching to the
   * standby block abandons the rest of the current one: a gap, never a repeat, and numbers keep
   * increasing.
   */
  take(slot: number, binding: number, count: bigint): bigint | undefined {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    const big = this.#big;
    const ints = this.#ints;
    this.#lock(i);
    if (ints[i + BINDING] !== binding) {
      this.#unlock(i);
      this.refillDue = false;
      return undefined;
    }
    const out = big[b + LAST_OUT];
    const next = out + count;
    if (next <= big[b + LIMIT]) {
      big[b + LAST_OUT] = next;
      this.#unlock(i);
      // Steady state: one lock, two loads and one store of 64 bits; the refill check reads two
      // 32-bit words.
      this.refillDue = ints[i + STANDBY_EMPTY] === 1 && this.claimRefill(slot);
      return count === 1n ? next : out + 1n;
    }
    if (ints[i + STANDBY_EMPTY] === 0) {
      const first = big[b + STANDBY_FIRST];
      const last = big[b + STANDBY_LAST];
      if (last - first >= count - 1n) {
        this.#leaveCurrent(b);
        big[b + CURRENT_FIRST] = first;
        big[b + LAST_OUT] = first + count - 1n;
        big[b + LIMIT] = last;
        ints[i + STANDBY_EMPTY] = 1;
        this.#unlock(i);
        // The standby was just used up: this caller asks the owner for the next one.
        this.refillDue = this.claimRefill(slot);
        return first;
      }
    }
    if (big[b + DEMAND] < count) big[b + DEMAND] = count;
    this.#unlock(i);
    this.refillDue = false;
    return undefined;
  }

  /**
   * Set by {@link take}: true when that take claimed the slot's refill (its standby is empty), so
   * the caller must ask the owner for a block. Per thread; read it right after `take`.
   */
  refillDue = false;

  /** The slot's binding: a take must name it (see {@link take}). */
  binding(slot: number): number {
    return Atomics.load(this.#ints, slot * INT_WORDS + BINDING);
  }

  /**
   * Gives `slot` to a new sequence (owner only): its blocks are dropped (a gap, never a repeat),
   * its counters start at 0, and the binding changes so that no thread takes from it under the old
   * one. Returns the new binding and the numbers the slot had handed out.
   */
  rebind(slot: number): { binding: number; handed: bigint } {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    const handed = this.#big[b + TAKEN] + this.#handedFromCurrent(b);
    const binding = (this.#ints[i + BINDING] + 1) | 0;
    this.#ints[i + BINDING] = binding;
    this.#empty(slot);
    this.#ints[i + STATE] = SlotState.Ok;
    this.#ints[i + REFILL] = 0;
    this.#unlock(i);
    this.#wake(i);
    return { binding, handed };
  }

  /**
   * The largest count one take from `slot` can serve now without a new block: the rest of the
   * current block or the whole standby, whichever is larger.
   */
  remaining(slot: number): bigint {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    const current = this.#big[b + LIMIT] - this.#big[b + LAST_OUT];
    const standby = this.#ints[i + STANDBY_EMPTY] === 1
      ? 0n
      : this.#big[b + STANDBY_LAST] - this.#big[b + STANDBY_FIRST] + 1n;
    this.#unlock(i);
    const most = current > standby ? current : standby;
    return most > 0n ? most : 0n;
  }

  /**
   * Claims the right to request a refill of `slot`: true for exactly one caller until the owner
   * releases it with {@link publish}.
   */
  claimRefill(slot: number): boolean {
    return Atomics.compareExchange(this.#ints, slot * INT_WORDS + REFILL, 0, 1) === 0;
  }

  /**
   * What the owner needs to size the next block: the largest count a waiting taker needs, how many
   * takers wait, and the free room of the standby block.
   */
  demand(slot: number): { demand: bigint; waiting: number; standbySize: bigint } {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    const demand = this.#big[b + DEMAND];
    const standbySize = this.#ints[i + STANDBY_EMPTY] === 1
      ? 0n
      : this.#big[b + STANDBY_LAST] - this.#big[b + STANDBY_FIRST] + 1n;
    this.#unlock(i);
    const waiting = Atomics.load(this.#ints, i + WAITING);
    return { demand, waiting, standbySize };
  }

  /** Counts a taker in (`+1`) or out (`-1`) of waiting for `slot`'s next block. */
  addWaiting(slot: number, delta: 1 | -1): void {
    Atomics.add(this.#ints, slot * INT_WORDS + WAITING, delta);
  }

  /**
   * Installs a committed block as the standby of `slot` (owner only). The block must lie above
   * everything the slot has handed out. A standby too small for the waiting demand is replaced.
   */
  install(slot: number, first: bigint, last: bigint): void {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    const big = this.#big;
    if (last < first) throw new RangeError(`block ${first}..${last} is empty`);
    this.#lock(i);
    if (this.#ints[i + INSTALLED] === 1 && first <= big[b + INSTALLED_LAST]) {
      const end = big[b + INSTALLED_LAST];
      this.#unlock(i);
      throw new RangeError(
        `block ${first}..${last} is not above the slot's last block end ${end}: refusing it`,
      );
    }
    big[b + INSTALLED_LAST] = last;
    this.#ints[i + INSTALLED] = 1;
    big[b + STANDBY_FIRST] = first;
    big[b + STANDBY_LAST] = last;
    this.#ints[i + STANDBY_EMPTY] = 0;
    if (big[b + DEMAND] <= last - first + 1n) big[b + DEMAND] = 0n;
    this.#unlock(i);
  }

  /**
   * Makes sure no number below `floor` is handed out from `slot` (owner only): the part of its
   * blocks below `floor` is dropped (a gap). Waiting takers are woken to look again.
   */
  raiseFloor(slot: number, floor: bigint): void {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    const big = this.#big;
    this.#lock(i);
    if (big[b + LAST_OUT] < floor - 1n) {
      this.#leaveCurrent(b);
      const lastOut = floor - 1n < big[b + LIMIT] ? floor - 1n : big[b + LIMIT];
      big[b + LAST_OUT] = lastOut;
      big[b + CURRENT_FIRST] = lastOut + 1n;
    }
    if (this.#ints[i + STANDBY_EMPTY] === 0) {
      if (big[b + STANDBY_LAST] < floor) this.#ints[i + STANDBY_EMPTY] = 1;
      else if (big[b + STANDBY_FIRST] < floor) big[b + STANDBY_FIRST] = floor;
    }
    this.#unlock(i);
    this.#wake(i);
  }

  /** Retires `slot` (owner only): its blocks are dropped and every take from now on fails. */
  retire(slot: number): void {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    this.#leaveCurrent(b);
    this.#big[b + CURRENT_FIRST] = this.#big[b + LIMIT] + 1n;
    this.#big[b + LAST_OUT] = this.#big[b + LIMIT];
    this.#ints[i + STANDBY_EMPTY] = 1;
    this.#ints[i + STATE] = SlotState.Retired;
    this.#unlock(i);
    this.#wake(i);
  }

  /**
   * Records the slot's state and wakes every waiting taker (owner only). With `release`, the
   * refill claim ends too; without, the owner keeps it while it retries a failed store. A retired
   * slot stays retired.
   */
  publish(slot: number, state: SlotStateValue, release: boolean): void {
    const i = slot * INT_WORDS;
    if (Atomics.load(this.#ints, i + STATE) !== SlotState.Retired) {
      Atomics.store(this.#ints, i + STATE, state);
    }
    if (release) Atomics.store(this.#ints, i + REFILL, 0);
    this.#wake(i);
  }

  #wake(i: number): void {
    Atomics.add(this.#ints, i + GEN, 1);
    Atomics.notify(this.#ints, i + GEN);
  }

  /** The slot's {@link SlotState}. */
  state(slot: number): SlotStateValue {
    return Atomics.load(this.#ints, slot * INT_WORDS + STATE) as SlotStateValue;
  }

  /** The slot's generation, read before a take so that a later wait cannot miss a refill. */
  generation(slot: number): number {
    return Atomics.load(this.#ints, slot * INT_WORDS + GEN);
  }

  /** Resolves once the slot's generation differs from `seen`, or after `timeoutMs`. */
  async waitForRefill(slot: number, seen: number, timeoutMs: number): Promise<void> {
    const result = Atomics.waitAsync(this.#ints, slot * INT_WORDS + GEN, seen, timeoutMs);
    if (result.async) await result.value;
  }

  /**
   * What `slot` has handed out since it was bound: how many numbers, and the last one
   * (`undefined` before the first).
   */
  handed(slot: number): { numbers: bigint; last: bigint | undefined } {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    const current = this.#handedFromCurrent(b);
    const numbers = this.#big[b + TAKEN] + current;
    const last = current > 0n ? this.#big[b + LAST_OUT] : this.#big[b + PREVIOUS_LAST];
    this.#unlock(i);
    return { numbers, last: numbers > 0n ? last : undefined };
  }
}
