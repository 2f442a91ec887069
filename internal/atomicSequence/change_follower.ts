/**
 * Keeps this process in step with changes made through any process sharing the store (floors
 * raised, sequences retired or revived), so that afterwards no thread of any replica hands out a
 * number the change forbids, from the blocks it holds in memory.
 *
 * - It polls the store's changes every `pollMs` and applies them to the shared table.
 * - It heartbeats (`replica id`, the version it has applied) every `heartbeatMs` and right after
 *   applying something new.
 * - A change made here waits ({@link ChangeFollower.propagate}) until every replica alive within
 *   the lease has applied it.
 * - A lease: when polling has failed for `leaseMs` minus a margin, the blocks held in memory are
 *   dropped (a gap, never a repeat), because a change this process cannot see may forbid them;
 *   the replicas waiting for its acknowledgement stop waiting once its heartbeat is older than the
 *   lease. New blocks always come from the store, which applies every change first.
 *
 * @module
 */
import { errorText, type SequenceRecord } from "../domain/domain.ts";
import type { Logger } from "../log/log.ts";
import type { Store } from "../store/store.ts";

/** Timing of {@link ChangeFollower}. */
export interface FollowerTiming {
  /** How often changes are polled (ms). */
  pollMs: number;
  /** How often the heartbeat is written when nothing changed (ms). */
  heartbeatMs: number;
  /** How long a replica counts as alive after its last heartbeat (ms). */
  leaseMs: number;
}

/** The defaults: poll every 250 ms, heartbeat every second, a five-second lease. */
export const DEFAULT_FOLLOWER_TIMING: FollowerTiming = {
  pollMs: 250,
  heartbeatMs: 1_000,
  leaseMs: 5_000,
};

/** Most records one `changes` call returns; a full page means more follow. */
const CHANGES_PAGE = 10_000;

/** What the follower does to the table. */
export interface FollowerHooks {
  /** Applies changed records (floors, retirements, revivals) to the sequences held in memory. */
  apply(records: SequenceRecord[]): void;
  /** Drops every block held in memory (the lease ran out). */
  dropAll(): void;
}

/** Follows the store's changes; see the module documentation. */
export class ChangeFollower {
  /** This process's id among the replicas. */
  readonly replica = crypto.randomUUID();
  readonly #store: Store;
  readonly #hooks: FollowerHooks;
  readonly #timing: FollowerTiming;
  readonly #logger: Logger;
  #applied = 0n;
  #lastPoll = performance.now();
  #lastHeartbeat = -Infinity;
  #fenced = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;

  constructor(
    store: Store,
    hooks: FollowerHooks,
    options: { timing?: FollowerTiming; logger: Logger },
  ) {
    this.#store = store;
    this.#hooks = hooks;
    this.#timing = options.timing ?? DEFAULT_FOLLOWER_TIMING;
    this.#logger = options.logger;
  }

  /** The highest change version applied here. */
  get applied(): bigint {
    return this.#applied;
  }

  /**
   * Reads the current version (earlier changes need no applying: nothing is held yet) and starts
   * polling.
   * @throws the store's error when it cannot be read.
   */
  async start(): Promise<void> {
    const { version } = await this.#store.changes(0n);
    this.#applied = version;
    await this.#store.heartbeat(this.replica, version);
    this.#lastPoll = this.#lastHeartbeat = performance.now();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.poll().finally(() => this.#schedule());
    }, this.#timing.pollMs);
  }

  /** Polls once now (or joins the poll under way). */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const started = performance.now();
    try {
      const before = this.#applied;
      for (;;) {
        const { version, records } = await this.#store.changes(this.#applied);
        if (records.length > 0) this.#hooks.apply(records);
        if (version > this.#applied) this.#applied = version;
        if (records.length < CHANGES_PAGE) break;
      }
      const fresh = this.#applied > before;
      this.#lastPoll = started;
      if (this.#fenced) {
        this.#fenced = false;
        this.#logger.info("store changes followed again; serving from new blocks");
      }
      if (fresh || started - this.#lastHeartbeat >= this.#timing.heartbeatMs) {
        await this.#store.heartbeat(this.replica, this.#applied);
        this.#lastHeartbeat = started;
      }
    } catch (error) {
      // A margin of a second below the lease: the others stop waiting for us at the lease.
      const margin = Math.min(1_000, this.#timing.leaseMs / 5);
      if (!this.#fenced && performance.now() - this.#lastPoll > this.#timing.leaseMs - margin) {
        this.#fenced = true;
        this.#hooks.dropAll();
        this.#logger.error(
          "store changes cannot be followed: blocks held in memory are dropped until they can",
          { leaseMs: this.#timing.leaseMs, error: errorText(error) },
        );
      }
    }
  }

  /**
   * Makes a change at `version` (made through this process) effective everywhere: applies every
   * change up to it here, then waits until each replica alive within the lease has applied it
   * (at most twice the lease). Returns the replicas that had not when it stopped waiting.
   */
  async propagate(version: bigint): Promise<string[]> {
    await this.poll();
    if (this.#applied < version) await this.poll();
    const deadline = performance.now() + 2 * this.#timing.leaseMs;
    for (;;) {
      const lagging = await this.#store.lagging(version, this.#timing.leaseMs);
      if (lagging.length === 0 || performance.now() > deadline || this.#closed) return lagging;
      await new Promise((r) => setTimeout(r, Math.min(50, this.#timing.pollMs)));
    }
  }

  /** Stops polling; waits for a poll under way. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#polling;
  }
}
