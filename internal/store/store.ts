/**
 * The storage interface behind every sequence. A store keeps, per sequence, its start and its
 * committed upper bound: the highest number that may ever be handed out. `reserve` moves the bound
 * up in one durable, atomic step and returns the block that lies below it; the allocator hands out
 * numbers only from reserved blocks, so nothing answered can be answered again after a crash.
 *
 * Implementations: `sqlite_store.ts` (embedded, the default; run on a thread of its own by
 * `sqlite_thread.ts`) and `postgres_store.ts` (shared by replicas). Both pass the same contract
 * tests in `test/store_contract.ts`.
 *
 * @module
 */
import { ADMIN_OPERATIONS, type Block, type SequenceAdmin } from "../domain/domain.ts";

/** Which store a process uses. */
export type StoreKind = "sqlite" | "postgres";

/** Where the store is: the embedded one in a folder, or PostgreSQL at a URL. */
export type StoreConfig =
  | { kind: "sqlite"; dataDir: string }
  | { kind: "postgres"; url: string; poolSize: number };

/** Durable storage of sequences and their committed bounds. */
export interface Store extends SequenceAdmin {
  /** Which store this is, for logs and metrics. */
  readonly kind: StoreKind;
  /**
   * Durably raises the bound of `name` by up to `size` (less only at `INT64_MAX`) and returns
   * the block below the new bound. Resolves only after the commit is durable.
   * Rejects with a `SequencerError`: `not_found`, `exhausted` (the bound is already `INT64_MAX`),
   * or `unavailable` (nothing was reserved).
   */
  reserve(name: string, size: bigint): Promise<Block>;
  /** Resolves when the store answers; rejects `unavailable` otherwise. */
  ping(): Promise<void>;
  /** Releases files, threads and connections. */
  close(): Promise<void>;
}

/** The store operations a store thread answers. */
export const STORE_OPERATIONS = [
  ...ADMIN_OPERATIONS,
  "reserve",
  "ping",
] as const satisfies readonly (
  keyof Store
)[];
