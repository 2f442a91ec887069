/**
 * The owner of the sequence table: the one place that talks to the store. It resolves names to
 * slots, reserves blocks (committed before they are installed), sizes them adaptively, retries a
 * failing store with backoff, and keeps the readiness flag. Takers in any thread call
 * {@link SequenceOwner.refill} (directly, or through a worker's message port) when a slot's
 * standby block is used up, so in steady state the next block is already committed before the
 * current one runs out and no request waits on the disk.
 *
 * @module
 */
import {
  ADMIN_OPERATIONS,
  DEFAULT_SEQUENCE,
  INT64_MAX,
  KEYED_OPERATIONS,
  type KeyedAnswer,
  type KeyedAnswers,
  type KeyedStart,
  notFound,
  type Numbering,
  numberingOf,
  PERIOD_SEPARATOR,
  retired,
  SEQUENCE_CAPACITY,
  type SequenceAdmin,
  type SequenceRecord,
  SequencerError,
  unavailable,
} from "../domain/domain.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../log/log.ts";
import { SequenceTable, SlotState } from "./atomic_sequence.ts";
import { type BlockSizing, DEFAULT_SIZING, nextBlockSize } from "./block_size.ts";
import { AnswerBook } from "./answer_book.ts";
import { ChangeFollower, type FollowerTiming } from "./change_follower.ts";
import { PeriodTracker } from "../period/period.ts";
import { processClock } from "../period/clock.ts";

/** Where a sequence lives in the table: its slot and the slot's binding (see `SequenceTable`). */
export interface SlotRef {
  /** The slot. */
  slot: number;
  /** The binding a take must name. */
  binding: number;
}

/**
 * A sequence with numbering settings: the settings, and the slot of its own numbers when it has
 * no periods (a sequence with periods takes its numbers from the slot of the current period's
 * sub-sequence, resolved by that name: `inv@2026`).
 */
export interface NumberedRef {
  /** The settings. */
  numbering: Numbering;
  /** The slot of its numbers; `undefined` for a sequence with periods. */
  ref: SlotRef | undefined;
}

/** What {@link OwnerPort.resolve} answers: a slot, or a sequence with numbering settings. */
export type Resolved = SlotRef | NumberedRef;

/**
 * What a taker in any thread may ask of the owner: slots, refills, the store's operations and
 * keyed answers.
 */
export interface OwnerPort extends SequenceAdmin, KeyedAnswers {
  /**
   * The slot of `name`, loading it from the store on first use; with its settings for a sequence
   * that has some. A period's name (`inv@2026`) is the slot of that period, whose sub-sequence is
   * created on first use (starting at the sequence's start); errors then name the sequence.
   */
  resolve(name: string): Promise<Resolved>;
  /** Asks for a new block for `slot` (the caller has claimed the slot's refill). */
  refill(slot: number): void;
}

/** The names of the {@link OwnerPort} operations, for forwarding them from worker threads. */
export const OWNER_OPERATIONS = [
  ...ADMIN_OPERATIONS,
  ...KEYED_OPERATIONS,
  "resolve",
  "refill",
] as const satisfies readonly (keyof OwnerPort)[];

/** One sequence as this process has served it since it started. */
export interface SequenceStats {
  /** The sequence's name. */
  name: string;
  /** Numbers handed out (a batch of N counts N). */
  numbers: bigint;
  /** The last number handed out, or `undefined` before the first. */
  lastNumber: bigint | undefined;
  /** Blocks committed to the store. */
  blocks: number;
  /** Block reservations the store failed. */
  failures: number;
  /** The size the next block will have (it adapts to the rate). */
  blockSize: bigint;
}

/** The owner's view of what this process has served, for `/debug/metrics`. */
export interface OwnerStats {
  /** One entry per sequence this process has served or resolved (periods as `name@period`). */
  sequences: SequenceStats[];
  /** True while the store answers. */
  storeUp: boolean;
  /** The current period, by this process's clock, of each sequence with periods it resolved. */
  periods: { sequence: string; period: string }[];
  /**
   * The store's clock minus this process's (ms), measured with the last ping less half its round
   * trip; `undefined` for a store without a clock of its own (the embedded one).
   */
  storeClockOffsetMs: number | undefined;
}

/** Options of {@link SequenceOwner.start}. */
export interface OwnerOptions {
  /** Where to log. */
  logger: Logger;
  /** Block size bounds. */
  sizing?: BlockSizing;
  /** Slots in the table (distinct sequences one process can serve). */
  capacity?: number;
  /** How often the store is pinged to keep readiness current (ms). */
  pingIntervalMs?: number;
  /** First and largest delay between retries of a failed reservation (ms). */
  retryMs?: { initial: number; max: number };
  /** How changes made through other processes are followed (see `change_follower.ts`). */
  follow?: FollowerTiming;
  /**
   * How long a sequence must have handed out nothing before its slot may be given to another
   * sequence when the table is full (ms, default 60 s). The store keeps the sequence; only the
   * rest of the blocks held for it is lost (a gap).
   */
  slotIdleMs?: number;
  /**
   * The clock (ms since the epoch; default the process's, see `period/clock.ts`): it decides the
   * current period, and measures idle time and the store's clock offset.
   */
  now?: () => number;
  /** How long answers of keyed requests are kept for retries (ms, default a day). */
  idempotencyTtlMs?: number;
  /** Called after each block is installed (for the trace timeline); see {@link ReserveHook}. */
  onReserve?: ReserveHook;
}

/**
 * The owner's `onReserve` hook: a committed block of `size` numbers of `name`, with
 * `performance.now()` times in milliseconds: when the reservation began, when the store commit
 * returned, when the block was live.
 */
export type ReserveHook = (
  name: string,
  size: bigint,
  startedMs: number,
  committedMs: number,
  installedMs: number,
) => void;

interface SlotMeta {
  name: string;
  binding: number;
  /** When it was last seen handing out numbers (or bound), and how many it had then. */
  lastActive: number;
  seenHanded: bigint;
  /**
   * The bound this process committed last, and the first number of the run of contiguous blocks
   * ending there (what a graceful shutdown may give back); `undefined` before the first block.
   */
  committed: bigint | undefined;
  runFirst: bigint;
  size: bigint;
  /** When the previous refill was asked for: the time between two is how long a block lasted. */
  requestedAt: number | undefined;
  backoff: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** True while `timer` waits out a backoff that a success elsewhere may cut short. */
  backingOff: boolean;
  running: Promise<void> | undefined;
  /** A refill was asked for while one ran: run again when it ends. */
  again: boolean;
  /** Blocks committed, and reservations that failed (for metrics). */
  blocks: number;
  failures: number;
}

/** Owns the table and the store; see the module documentation. */
export class SequenceOwner implements OwnerPort {
  /** Creates a sequence; see {@link SequenceAdmin.create}. */
  declare readonly create: SequenceAdmin["create"];
  /** One sequence as stored; see {@link SequenceAdmin.get}. */
  declare readonly get: SequenceAdmin["get"];
  /** One page of sequences; see {@link SequenceAdmin.list}. */
  declare readonly list: SequenceAdmin["list"];
  /** Raises a floor; see {@link SequenceAdmin.raiseFloor}. */
  declare readonly raiseFloor: SequenceAdmin["raiseFloor"];
  /** Retires a sequence; see {@link SequenceAdmin.retire}. */
  declare readonly retire: SequenceAdmin["retire"];
  /** The shared table every taker reads. */
  readonly table: SequenceTable;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #sizing: BlockSizing;
  /** False with blocks of one number: nothing is reserved before someone asks for it. */
  readonly #prefetch: boolean;
  readonly #retry: { initial: number; max: number };
  readonly #onReserve: OwnerOptions["onReserve"];
  readonly #slots = new Map<string, SlotRef>();
  readonly #resolving = new Map<string, Promise<Resolved>>();
  /** Per slot, the sequence bound to it; `undefined` for a free slot. */
  readonly #meta: (SlotMeta | undefined)[] = [];
  /** Slots given back, to be bound again before new ones. */
  readonly #free: number[] = [];
  #healthy = true;
  #started = false;
  #closed = false;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  readonly #follower: ChangeFollower;
  readonly #slotIdleMs: number;
  readonly #now: () => number;
  readonly #answers: AnswerBook;
  /** The sequences with numbering settings resolved here, with their current stamp. */
  readonly #numbered = new Map<string, PeriodTracker>();
  #clockOffsetMs: number | undefined;

  private constructor(store: Store, options: OwnerOptions) {
    this.#store = store;
    this.#logger = options.logger;
    this.#sizing = options.sizing ?? DEFAULT_SIZING;
    this.#prefetch = this.#sizing.max > 1n;
    this.#retry = options.retryMs ?? { initial: 100, max: 2_000 };
    this.#onReserve = options.onReserve;
    this.#slotIdleMs = options.slotIdleMs ?? 60_000;
    this.#answers = new AnswerBook(store, {
      ttlMs: options.idempotencyTtlMs ?? 86_400_000,
      logger: options.logger,
    });
    this.#now = options.now ?? processClock();
    this.table = SequenceTable.create(options.capacity ?? SEQUENCE_CAPACITY);
    this.#follower = new ChangeFollower(store, {
      apply: (records) => this.#apply(records),
      dropAll: () => this.#dropAll(),
    }, { timing: options.follow, logger: options.logger });
    // The store's operations pass through unchanged, tracked for the store's health; a change
    // they made is applied to the table and waits until every replica has applied it too.
    const admin = this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const operation of ADMIN_OPERATIONS) {
      const call = store[operation] as (...args: unknown[]) => Promise<unknown>;
      admin[operation] = async (...args) => {
        const result = await this.#track(call.apply(store, args));
        const records = recordsIn(result);
        this.#apply(records);
        const version = records.reduce((v, r) => (r.version > v ? r.version : v), 0n);
        if (version > this.#follower.applied) {
          const lagging = await this.#follower.propagate(version);
          if (lagging.length > 0) {
            this.#logger.warn("a change was not applied by every replica in time", {
              operation,
              version,
              replicas: lagging,
            });
          }
        }
        return result;
      };
    }
  }

  /** Starts a keyed request; see {@link KeyedAnswers.beginKeyed}. */
  beginKeyed(key: string, fingerprint: string): Promise<KeyedStart> {
    try {
      return Promise.resolve(this.#answers.begin(key, fingerprint));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Ends a keyed request; see {@link KeyedAnswers.finishKeyed}. */
  finishKeyed(
    key: string,
    fingerprint: string,
    answer?: { status: number; body: string },
  ): Promise<KeyedAnswer | undefined> {
    return this.#track(this.#answers.finish(key, fingerprint, answer));
  }

  /** Applies changed records to the slots bound to them: floors raised, retirements. */
  #apply(records: SequenceRecord[]): void {
    for (const record of records) {
      if (record.retired) this.#numbered.delete(record.name);
      const ref = this.#slots.get(record.name);
      if (ref === undefined) continue;
      if (record.retired) {
        this.table.retire(ref.slot);
        this.#release(record.name);
      } else {
        this.table.raiseFloor(ref.slot, record.floor);
      }
    }
  }

  /**
   * Gives the slot of `name` back (its sequence was retired): stale takers in any thread find its
   * binding changed or its state retired, and resolving the name again answers `retired`.
   */
  #release(name: string): void {
    const ref = this.#slots.get(name);
    if (ref === undefined) return;
    const meta = this.#meta[ref.slot];
    this.#slots.delete(name);
    this.#numbered.delete(name);
    if (meta !== undefined) {
      clearTimeout(meta.timer);
      meta.timer = undefined;
      meta.backingOff = false;
    }
    this.#meta[ref.slot] = undefined;
    this.#free.push(ref.slot);
  }

  /** Drops every block held in memory (the change follower's lease ran out). */
  #dropAll(): void {
    for (const ref of this.#slots.values()) this.table.raiseFloor(ref.slot, INT64_MAX);
  }

  /**
   * Starts an owner on an open store: resolves `default` and commits its first block before
   * resolving, so the service is ready to answer when this returns. With blocks of one number
   * (`sizing.max` 1) nothing is reserved ahead, the first block included: each number is
   * committed when a request asks for it.
   * @throws the store's error when the first block cannot be committed.
   */
  static async start(store: Store, options: OwnerOptions): Promise<SequenceOwner> {
    const owner = new SequenceOwner(store, options);
    await owner.#follower.start();
    const resolved = await owner.resolve(DEFAULT_SEQUENCE);
    // `default` never has numbering settings: the stores create it without, and creating it
    // again with settings is refused.
    if (!("slot" in resolved)) {
      await owner.close();
      throw unavailable("the default sequence has numbering settings; it must have none");
    }
    const { slot } = resolved;
    // Without prefetch, resolving `default` proved the store answers; a block reserved now would
    // be a number held ahead of other replicas, which that mode exists to avoid.
    if (owner.#prefetch) {
      owner.table.claimRefill(slot);
      await owner.#refill(slot, false);
    }
    if (owner.table.state(slot) !== SlotState.Ok) {
      await owner.close();
      throw unavailable("the first block of the default sequence was not committed");
    }
    owner.#started = true;
    owner.#setHealthy(true);
    const interval = options.pingIntervalMs ?? 2_000;
    owner.#pingTimer = setInterval(() => owner.#ping(), interval);
    return owner;
  }

  /** True once started, while the store answers and until closed. */
  ready(): boolean {
    return this.#started && this.#healthy && !this.#closed;
  }

  #setHealthy(healthy: boolean): void {
    if (healthy !== this.#healthy) {
      if (healthy) this.#logger.info("store available again", { store: this.#store.kind });
      else this.#logger.warn("store unavailable", { store: this.#store.kind });
    }
    this.#healthy = healthy;
  }

  /** Notes which sequences handed out numbers since the last look (or have takers waiting). */
  #observeActivity(): void {
    const now = this.#now();
    this.#meta.forEach((meta, slot) => {
      if (meta === undefined) return;
      const { numbers } = this.table.handed(slot);
      if (numbers !== meta.seenHanded || this.table.demand(slot).waiting > 0) {
        meta.seenHanded = numbers;
        meta.lastActive = now;
      }
    });
  }

  /**
   * Gives the slot of the sequence idle the longest (at least `slotIdleMs`, never `default`, none
   * with a reservation running) to whoever needs it; `undefined` when every slot is in use.
   */
  #evictIdle(): number | undefined {
    this.#observeActivity();
    const now = this.#now();
    let victim: SlotMeta | undefined;
    for (const meta of this.#bound()) {
      if (meta.name === DEFAULT_SEQUENCE || meta.running !== undefined) continue;
      if (now - meta.lastActive < this.#slotIdleMs) continue;
      if (victim === undefined || meta.lastActive < victim.lastActive) victim = meta;
    }
    if (victim === undefined) return undefined;
    this.#logger.info("slot given to another sequence", {
      sequence: victim.name,
      idleSec: Math.round((now - victim.lastActive) / 1000),
    });
    this.#release(victim.name);
    return this.#free.pop();
  }

  async #ping(): Promise<void> {
    if (this.#closed) return;
    this.#observeActivity();
    try {
      const sent = this.#now();
      const clock = await this.#store.ping();
      if (typeof clock === "number") {
        this.#clockOffsetMs = clock - (sent + this.#now()) / 2;
      }
      if (this.#bound().every((m) => m.timer === undefined)) this.#setHealthy(true);
    } catch {
      this.#setHealthy(false);
    }
  }

  /** The sequences bound to slots. */
  #bound(): SlotMeta[] {
    return this.#meta.filter((m): m is SlotMeta => m !== undefined);
  }

  /** The slot of `name`; see {@link OwnerPort.resolve}. */
  resolve(name: string): Promise<Resolved> {
    const known = this.#slots.get(name);
    if (known !== undefined) {
      const numbered = this.#numbered.get(name);
      return Promise.resolve(
        numbered === undefined ? known : { numbering: numbered.numbering, ref: known },
      );
    }
    let pending = this.#resolving.get(name);
    if (pending === undefined) {
      pending = this.#load(name).finally(() => this.#resolving.delete(name));
      this.#resolving.set(name, pending);
    }
    return pending;
  }

  async #load(name: string): Promise<Resolved> {
    const at = name.indexOf(PERIOD_SEPARATOR);
    if (at >= 0) return await this.#loadPeriod(name, name.slice(0, at));
    const record = await this.#track(this.#store.get(name));
    if (record === undefined) throw notFound(name);
    if (record.retired) throw retired(name);
    const numbering = numberingOf(record);
    if (numbering === undefined) return this.#bind(name);
    this.#numbered.set(name, new PeriodTracker(numbering));
    return { numbering, ref: numbering.reset === "never" ? this.#bind(name) : undefined };
  }

  /**
   * The slot of `name`, the period of `sequence`: its sub-sequence is created on first use
   * (starting at the sequence's start), and revived after the sequence was retired and revived.
   */
  async #loadPeriod(name: string, sequence: string): Promise<SlotRef> {
    const record = await this.#track(this.#store.get(name));
    if (record === undefined || record.retired) {
      const parent = await this.#track(this.#store.get(sequence));
      if (parent === undefined) throw notFound(sequence);
      if (parent.retired) throw retired(sequence);
      if (parent.reset === undefined || parent.reset === "never") {
        throw new SequencerError(
          "conflict",
          `sequence ${JSON.stringify(sequence)} has no periods (it was created again without)`,
        );
      }
      const created = await this.#track(this.#store.create(name, parent.start));
      if (created.record.retired) throw retired(sequence);
    }
    return this.#bind(name);
  }

  /** Binds `name` to a free slot (or one idle long enough): its numbers are taken there. */
  #bind(name: string): SlotRef {
    const slot = this.#free.pop() ??
      (this.#meta.length < this.table.capacity ? this.#meta.length : this.#evictIdle());
    if (slot === undefined) {
      throw new SequencerError(
        "too_many",
        `this process serves at most ${this.table.capacity} sequences at once, and every one ` +
          `handed out numbers within the last ${Math.round(this.#slotIdleMs / 1000)} s; ` +
          `try again later, or raise SEQUENCES_MAX`,
        { details: { limit: this.table.capacity } },
      );
    }
    // A slot given back keeps its old binding until now: stale takers in any thread fail.
    const { binding } = this.table.rebind(slot);
    this.#meta[slot] = {
      name,
      binding,
      lastActive: this.#now(),
      seenHanded: 0n,
      committed: undefined,
      runFirst: 0n,
      size: this.#sizing.min,
      requestedAt: undefined,
      backoff: this.#retry.initial,
      timer: undefined,
      backingOff: false,
      running: undefined,
      again: false,
      blocks: 0,
      failures: 0,
    };
    const ref = { slot, binding };
    this.#slots.set(name, ref);
    return ref;
  }

  /** Asks for a new block; see {@link OwnerPort.refill}. */
  refill(slot: number): void {
    const meta = this.#meta[slot];
    if (meta === undefined || this.#closed) return;
    // The caller holds the slot's refill claim, so its request must not be dropped: a run in
    // flight may already have released the claim it served (its waiters resume in the same
    // microtask checkpoint, before the run is marked finished). Run once more after it.
    if (meta.running !== undefined) {
      meta.again = true;
      return;
    }
    meta.running = this.#refills(slot, meta);
  }

  async #refills(slot: number, meta: SlotMeta): Promise<void> {
    try {
      do {
        meta.again = false;
        await this.#refill(slot, true);
      } while (meta.again && !this.#closed);
    } finally {
      meta.running = undefined;
    }
  }

  async #refill(slot: number, retry: boolean): Promise<void> {
    const meta = this.#meta[slot];
    if (meta === undefined) return;
    const { demand, waiting, standbySize } = this.table.demand(slot);
    if (standbySize > 0n && standbySize >= demand) {
      this.table.publish(slot, SlotState.Ok, true);
      return;
    }
    if (demand === 0n && !this.#prefetch) {
      // Asked ahead of need (the standby ran empty) but nobody waits: reserve nothing now. A
      // taker that finds no number records its demand and asks again.
      this.table.publish(slot, SlotState.Ok, true);
      return;
    }
    const now = performance.now();
    if (meta.requestedAt !== undefined) {
      meta.size = nextBlockSize(meta.size, now - meta.requestedAt, this.#sizing);
    }
    if (demand === 0n) meta.requestedAt = now;
    let size = demand > meta.size ? demand : meta.size;
    // Without prefetch, one block serves every taker already waiting: one number each at least,
    // never more than they need together (the largest count is one of theirs), so nothing is
    // held ahead and a burst of requests costs one commit instead of one each.
    if (!this.#prefetch && BigInt(waiting) > size) size = BigInt(waiting);
    try {
      const block = await this.#track(this.#store.reserve(meta.name, size));
      const committed = performance.now();
      // The slot was given back meanwhile (its sequence retired): the block is a gap.
      if (this.#meta[slot] !== meta) return;
      this.table.install(slot, block.first, block.last);
      if (meta.committed === undefined || block.first !== meta.committed + 1n) {
        meta.runFirst = block.first;
      }
      meta.committed = block.last;
      meta.blocks++;
      this.#onReserve?.(meta.name, size, now, committed, performance.now());
      meta.backoff = this.#retry.initial;
      meta.timer = undefined;
      this.table.publish(slot, SlotState.Ok, true);
    } catch (error) {
      if (this.#meta[slot] !== meta) return;
      if (error instanceof SequencerError && error.code === "retired") {
        this.table.retire(slot);
        this.#release(meta.name);
        return;
      }
      if (error instanceof SequencerError && error.code === "exhausted") {
        // Keep the claim: nobody needs to ask the store again.
        this.table.publish(slot, SlotState.Exhausted, false);
        return;
      }
      meta.failures++;
      this.#logger.error("block reservation failed", { sequence: meta.name, size, error });
      this.table.publish(slot, SlotState.StoreUnavailable, false);
      if (retry && !this.#closed) {
        // Keep the claim and retry with backoff, so a failing store is not hammered at the
        // request rate; service resumes by itself once a reservation succeeds.
        const delay = meta.backoff;
        meta.backoff = Math.min(meta.backoff * 2, this.#retry.max);
        this.#scheduleRetry(slot, delay, true);
      }
    }
  }

  #scheduleRetry(slot: number, delay: number, backingOff: boolean): void {
    const meta = this.#meta[slot];
    if (meta === undefined) return;
    clearTimeout(meta.timer);
    meta.backingOff = backingOff;
    meta.timer = setTimeout(() => {
      meta.timer = undefined;
      meta.backingOff = false;
      this.refill(slot);
    }, delay);
  }

  /**
   * The store just answered: slots waiting out a backoff retry now instead of serving 503 for
   * up to the backoff's length. Each failure is cut short once, so a sequence that keeps
   * failing is retried at most as often as other operations succeed.
   */
  #retryNow(): void {
    for (let slot = 0; slot < this.#meta.length; slot++) {
      if (this.#meta[slot]?.backingOff) this.#scheduleRetry(slot, 0, false);
    }
  }

  async #track<T>(operation: Promise<T>): Promise<T> {
    try {
      const result = await operation;
      if (this.#started && !this.#closed) {
        this.#retryNow();
        // Ready again only when no sequence still waits for a block: one answer from the store
        // does not mean every sequence is served.
        if (!this.#healthy && this.#bound().every((m) => m.timer === undefined)) {
          this.#setHealthy(true);
        }
      }
      return result;
    } catch (error) {
      if (error instanceof SequencerError && error.code === "unavailable") this.#setHealthy(false);
      throw error;
    }
  }

  /** What this process has served, read from the shared table, for `/debug/metrics`. */
  stats(): OwnerStats {
    const now = this.#now();
    const periods: OwnerStats["periods"] = [];
    for (const [sequence, tracker] of this.#numbered) {
      const { period } = tracker.at(now);
      if (period !== undefined) periods.push({ sequence, period });
    }
    return {
      storeUp: this.#healthy,
      periods,
      storeClockOffsetMs: this.#clockOffsetMs,
      sequences: this.#meta.flatMap((meta, slot) => {
        if (meta === undefined) return [];
        const handed = this.table.handed(slot);
        return {
          name: meta.name,
          numbers: handed.numbers,
          lastNumber: handed.last,
          blocks: meta.blocks,
          failures: meta.failures,
          blockSize: meta.size,
        };
      }),
    };
  }

  /**
   * Stops timers and waits for reservations in flight. With `giveBack` (a graceful shutdown,
   * after the API has drained), each sequence then gives back the unused rest of its blocks: the
   * store's bound is lowered to the last number handed out, by compare-and-set against the bound
   * this process committed itself, so nothing is lowered when another process reserved since.
   * The store stays open.
   */
  async close(options: { giveBack?: boolean } = {}): Promise<void> {
    this.#closed = true;
    clearInterval(this.#pingTimer);
    await this.#follower.close();
    await this.#answers.close();
    for (const meta of this.#bound()) {
      clearTimeout(meta.timer);
      meta.timer = undefined;
      meta.backingOff = false;
    }
    await Promise.allSettled(this.#bound().map((meta) => meta.running));
    if (options.giveBack) await this.#giveBack();
  }

  async #giveBack(): Promise<void> {
    let numbers = 0n;
    const refused: string[] = [];
    const failed: string[] = [];
    await Promise.all(this.#meta.map(async (meta, slot) => {
      if (meta === undefined || meta.committed === undefined) return;
      const { last } = this.table.handed(slot);
      // Never below a number handed out, nor into a block of the run another process may hold.
      const to = last !== undefined && last >= meta.runFirst ? last : meta.runFirst - 1n;
      if (to >= meta.committed) return;
      try {
        if (await this.#store.giveBack(meta.name, meta.committed, to)) {
          numbers += meta.committed - to;
        } else {
          refused.push(meta.name);
        }
      } catch {
        failed.push(meta.name);
      }
    }));
    const fields = { numbers, sequences: this.#bound().length, refused, failed };
    if (refused.length > 0 || failed.length > 0) {
      this.#logger.warn(
        "unused numbers given back, except where another process reserved since or the store failed (those stay a gap)",
        fields,
      );
    } else {
      this.#logger.info("unused numbers given back to the store", fields);
    }
  }
}

/** The sequence records in an operation's result (a record, a change, a creation, a page). */
function recordsIn(result: unknown): SequenceRecord[] {
  if (Array.isArray(result)) return result.filter(isRecord);
  if (isRecord(result)) return [result];
  const inner = (result as { record?: unknown } | undefined)?.record;
  return isRecord(inner) ? [inner] : [];
}

function isRecord(value: unknown): value is SequenceRecord {
  return typeof value === "object" && value !== null && "name" in value && "version" in value;
}
