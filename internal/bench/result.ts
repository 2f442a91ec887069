/**
 * What one benchmark run measured: the data between `runBench` and the report.
 *
 * @module
 */
import type { CpuMeasurement } from "./cpu.ts";
import type { ProfileSummary } from "./profile_summary.ts";
import type { Reference } from "./references.ts";
import type { Measurement } from "./wrk.ts";

/** What to measure. */
export interface BenchOptions {
  /** Seconds per wrk run. */
  seconds: number;
  /** Rounds of the side-by-side comparison. */
  rounds: number;
  /** API workers of the service, listener threads of the baselines. */
  workers: number;
  /** wrk connections. */
  connections: number;
}

/** One side-by-side round of single numbers, each with the server's CPU per request. */
export interface SingleRound {
  round: number;
  /** The service, `GET /v1/sequence`. */
  ours: CpuMeasurement;
  /** The bare baseline (`content-type` only). */
  base: CpuMeasurement;
  /** The bare baseline with the service's headers (`NO_STORE=1`). */
  same: CpuMeasurement;
}

/** Throughput with and without a CPU profile running, and what the profile shows. */
export interface Profiled {
  without: Measurement;
  during: Measurement;
  /** HTTP status of the profile request. */
  status: number;
  summary?: ProfileSummary;
}

/** A reference row next to a fresh run of the bare baseline. */
export type ReferenceRow = Reference & { baseline: number | undefined };

/** Keyed requests (a new `Idempotency-Key` each) against unkeyed ones, side by side. */
export interface KeyedRound {
  keyed: CpuMeasurement;
  unkeyed: CpuMeasurement;
}

/** The access log's cost: the service with `LOG_REQUESTS=true` against the same without. */
export interface AccessLogRound {
  on: CpuMeasurement;
  off: CpuMeasurement;
}

/** What the client's prefetch benchmark printed, or why it did not run. */
export type PrefetchResult = { lines: string[] } | { skipped: string };

/** Everything one run measured, for the report. */
export interface BenchResult {
  options: BenchOptions;
  /** `YYYY-MM-DD`. */
  date: string;
  machine: { cpu: string; cores: number; deno: string; v8: string; wrk: string; hz: number };
  rounds: SingleRound[];
  batches: Measurement[];
  profiled: Profiled;
  references: ReferenceRow[];
  replicas: ReplicaResult;
  keyed: KeyedRound[];
  accessLog: AccessLogRound[];
  prefetch: PrefetchResult;
}

/** The batch size of the batch rows. */
export const BATCH = 10_000;

/** How many replicas share the database. */
export const REPLICAS = 3;

/** One round of three replicas on PostgreSQL against the one replica on the embedded store. */
export interface ReplicaRound {
  round: number;
  /** One wrk per replica, all at the same time. */
  three: Measurement[];
  /** The same wrk processes, all against the one embedded-store replica. */
  one: Measurement[];
}

/** The three-replica comparison, or why it was skipped. */
export type ReplicaResult =
  | { skipped: string }
  | { rounds: ReplicaRound[]; perClient: number; postgres: string };
