/**
 * The in-memory step of handing out numbers: a table of sequence cursors in a `SharedArrayBuffer`,
 * so the main thread and every worker thread take numbers from the same blocks with `Atomics`.
 *
 * Each slot holds the current block (`next..limit`) and one standby block (Leaf's double buffer).
 * Blocks are installed only after the store has committed them, so every number a slot can hand
 * out is durably reserved. A take is a few loads and stores under a per-slot spin lock that is
 * held for nanoseconds and never across an `await`; it never touches the store.
 *
 * @module
 */

/** Words per slot in the 64-bit view. */
const BIG_WORDS = 7;
// The current block is LAST_OUT+1..LIMIT. The last number handed out is kept rather than the next
// one, so no stored value ever exceeds the 64-bit maximum (the next after INT64_MAX would wrap).
const LAST_OUT = 0; // last number handed out from the current block
const LIMIT = 1; // last number (inclusive) of the current block
const STANDBY_FIRST = 2; // standby block, empty when STANDBY_LAST < STANDBY_FIRST
const STANDBY_LAST = 3;
const DEMAND = 4; // the largest count a waiting taker needs, 0 when none
const TAKEN = 5; // numbers handed out by this slot since the process started (for metrics)
const FLOOR = 6; // last number of the newest block installed; valid once INSTALLED is 1

/** Words per slot in the 32-bit view. */
const INT_WORDS = 6;
const LOCK = 0; // spin lock: 0 free, 1 held
const REFILL = 1; // 1 while a refill is requested or running
const GEN = 2; // bumped (and notified) whenever the owner installs a block or records a failure
const STATE = 3; // SlotState
const INSTALLED = 4; // 1 once a block has been installed
const WAITING = 5; // takers in any thread waiting for this slot's next block

/** Why a slot cannot hand out numbers right now. */
export const SlotState = {
  /** Working normally. */
  Ok: 0,
  /** The last reservation failed: the store is unavailable. */
  StoreUnavailable: 1,
  /** The store's bound reached the 64-bit maximum. */
  Exhausted: 2,
} as const;

/** One of the {@link SlotState} values. */
export type SlotStateValue = (typeof SlotState)[keyof typeof SlotState];

/** The shared memory behind a {@link SequenceTable}; pass it to workers with `postMessage`. */
export interface SequenceTableMemory {
  /** 64-bit words: cursors and blocks. */
  big: SharedArrayBuffer;
  /** 32-bit words: locks, refill flags, generations and states. */
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
      for (let slot = 0; slot < this.capacity; slot++) {
        const b = slot * BIG_WORDS;
        // Empty blocks: nothing left above LAST_OUT, standby last < first.
        this.#big[b + LAST_OUT] = 0n;
        this.#big[b + LIMIT] = 0n;
        this.#big[b + STANDBY_FIRST] = 1n;
        this.#big[b + STANDBY_LAST] = 0n;
      }
    }
  }

  #lock(i: number): void {
    // Held only for a handful of loads and stores, never across an await: spinning is cheaper
    // than any blocking primitive, and Atomics.wait is not allowed on the main thread.
    while (Atomics.compareExchange(this.#ints, i + LOCK, 0, 1) !== 0) { /* spin */ }
  }

  #unlock(i: number): void {
    Atomics.store(this.#ints, i + LOCK, 0);
  }

  /**
   * Takes `count` consecutive numbers from `slot` and returns the first, or `undefined` when
   * neither the current nor the standby block holds `count` numbers (the caller then requests a
   * refill and waits). Switching to the standby block abandons the rest of the current one: a
   * gap, never a repeat, and numbers keep increasing.
   */
  take(slot: number, count: bigint): bigint | undefined {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    const big = this.#big;
    this.#lock(i);
    const out = big[b + LAST_OUT];
    if (big[b + LIMIT] - out >= count) {
      big[b + LAST_OUT] = out + count;
      big[b + TAKEN] += count;
      this.#unlock(i);
      // Steady state: one lock, two loads, two stores. The refill check is one atomic load.
      this.refillDue = Atomics.load(this.#ints, i + REFILL) === 0 &&
        big[b + STANDBY_LAST] < big[b + STANDBY_FIRST] && this.claimRefill(slot);
      return out + 1n;
    }
    const first = big[b + STANDBY_FIRST];
    const last = big[b + STANDBY_LAST];
    if (last - first >= count - 1n) {
      big[b + LAST_OUT] = first + count - 1n;
      big[b + LIMIT] = last;
      big[b + STANDBY_FIRST] = 1n;
      big[b + STANDBY_LAST] = 0n;
      big[b + TAKEN] += count;
      this.#unlock(i);
      // The standby was just used up: this caller asks the owner for the next one.
      this.refillDue = this.claimRefill(slot);
      return first;
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

  /**
   * The largest count one take from `slot` can serve now without a new block: the rest of the
   * current block or the whole standby, whichever is larger.
   */
  remaining(slot: number): bigint {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    const current = this.#big[b + LIMIT] - this.#big[b + LAST_OUT];
    const standby = this.#big[b + STANDBY_LAST] - this.#big[b + STANDBY_FIRST] + 1n;
    this.#unlock(i);
    const most = current > standby ? current : standby;
    return most > 0n ? most : 0n;
  }

  /**
   * Claims the right to request a refill of `slot`: true for exactly one caller until the owner
   * calls {@link finishRefill}.
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
    const standbySize = this.#big[b + STANDBY_LAST] - this.#big[b + STANDBY_FIRST] + 1n;
    this.#unlock(i);
    const waiting = Atomics.load(this.#ints, i + WAITING);
    return { demand, waiting, standbySize: standbySize > 0n ? standbySize : 0n };
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
    if (this.#ints[i + INSTALLED] === 1 && first <= big[b + FLOOR]) {
      const floor = big[b + FLOOR];
      this.#unlock(i);
      throw new RangeError(
        `block ${first}..${last} is not above the slot's last block end ${floor}: refusing it`,
      );
    }
    big[b + FLOOR] = last;
    this.#ints[i + INSTALLED] = 1;
    big[b + STANDBY_FIRST] = first;
    big[b + STANDBY_LAST] = last;
    if (big[b + DEMAND] <= last - first + 1n) big[b + DEMAND] = 0n;
    this.#unlock(i);
  }

  /**
   * Records the slot's state and wakes every waiting taker (owner only). With `release`, the
   * refill claim ends too; without, the owner keeps it while it retries a failed store.
   */
  publish(slot: number, state: SlotStateValue, release: boolean): void {
    const i = slot * INT_WORDS;
    Atomics.store(this.#ints, i + STATE, state);
    if (release) Atomics.store(this.#ints, i + REFILL, 0);
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

  /** Numbers handed out by `slot` since the process started. */
  taken(slot: number): bigint {
    return Atomics.load(this.#big, slot * BIG_WORDS + TAKEN);
  }

  /** The current block of `slot`: the last number handed out and the block's end. */
  cursor(slot: number): { lastOut: bigint; limit: bigint } {
    const b = slot * BIG_WORDS;
    const i = slot * INT_WORDS;
    this.#lock(i);
    const cursor = { lastOut: this.#big[b + LAST_OUT], limit: this.#big[b + LIMIT] };
    this.#unlock(i);
    return cursor;
  }
}
