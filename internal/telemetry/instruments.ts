/**
 * The service's metrics as OpenTelemetry instruments, the same facts `/debug/metrics` shows.
 * Observable ones are read from the owner once per export (`OTEL_METRIC_EXPORT_INTERVAL`, Deno's
 * default 60 s), never on the request path; the commit histogram is fed by the owner's
 * `onReserve` hook, once per committed block. See otel.ts for when they are exported.
 *
 * | instrument | kind | unit | attributes |
 * | --- | --- | --- | --- |
 * | `sequencer.numbers` | observable counter | `{number}` | `sequencer.sequence` |
 * | `sequencer.last_number` | observable gauge | `{number}` | `sequencer.sequence` |
 * | `sequencer.blocks.reserved` | observable counter | `{block}` | `sequencer.sequence` |
 * | `sequencer.block_reservation.failures` | observable counter | `{failure}` | `sequencer.sequence` |
 * | `sequencer.block.size` | observable gauge | `{number}` | `sequencer.sequence` |
 * | `sequencer.ready` | observable gauge | `1` | |
 * | `sequencer.store.up` | observable gauge | `1` | |
 * | `sequencer.store.commit.duration` | histogram | `s` | `db.system.name` |
 *
 * OpenTelemetry values are doubles: `sequencer.last_number` is exact up to 2^53 and rounded above
 * (`/debug/metrics` has the exact digits).
 *
 * @module
 */
import { type BatchObservableResult, metrics, type Observable } from "@opentelemetry/api";
import type { OwnerStats, SequenceStats } from "../atomicSequence/owner.ts";
import { COMMIT_BUCKETS_SECONDS } from "../metrics/store_latency.ts";
import { metricsEnabled, type ReserveHook, SCOPE } from "./otel.ts";

/** What the instruments read. */
export interface ServiceView {
  /** The owner's view, or `undefined` while the service starts. */
  stats(): OwnerStats | undefined;
  /** True when readiness answers 200. */
  ready(): boolean;
}

/** Options of {@link observeService}. */
export interface InstrumentOptions {
  /** The store kind, as `db.system.name` of the commit histogram. */
  store: string;
  /** Whether metrics are exported (default: {@link metricsEnabled}). */
  enabled?: boolean;
}

/** One per-sequence instrument: name, kind, unit, description, and what it reads. */
const PER_SEQUENCE: readonly [
  string,
  "counter" | "gauge",
  string,
  string,
  (s: SequenceStats) => bigint | number | undefined,
][] = [
  [
    "sequencer.numbers",
    "counter",
    "{number}",
    "Numbers handed out by this process since it started (a batch of N counts N).",
    (s) => s.numbers,
  ],
  [
    "sequencer.last_number",
    "gauge",
    "{number}",
    "The last number this process handed out (a double: rounded above 2^53).",
    (s) => s.lastNumber,
  ],
  [
    "sequencer.blocks.reserved",
    "counter",
    "{block}",
    "Blocks committed to the store by this process.",
    (s) => s.blocks,
  ],
  [
    "sequencer.block_reservation.failures",
    "counter",
    "{failure}",
    "Block reservations the store failed.",
    (s) => s.failures,
  ],
  [
    "sequencer.block.size",
    "gauge",
    "{number}",
    "Size of the next block; it adapts to the rate.",
    (s) => s.blockSize,
  ],
];

/**
 * Registers the instruments on the API's meter; returns the `onReserve` hook that records store
 * commit durations, or `undefined` when metrics are not exported (then nothing is registered).
 */
export function observeService(
  view: ServiceView,
  options: InstrumentOptions,
): ReserveHook | undefined {
  if (!(options.enabled ?? metricsEnabled())) return undefined;
  const meter = metrics.getMeter(SCOPE);
  const perSequence = PER_SEQUENCE.map(([name, kind, unit, description, pick]) => {
    const create = kind === "counter"
      ? meter.createObservableCounter.bind(meter)
      : meter.createObservableGauge.bind(meter);
    return { instrument: create(name, { unit, description }) as Observable, pick };
  });
  const ready = meter.createObservableGauge("sequencer.ready", {
    unit: "1",
    description: "1 when readiness answers 200.",
  });
  const storeUp = meter.createObservableGauge("sequencer.store.up", {
    unit: "1",
    description: "1 while the store answers.",
  });
  meter.addBatchObservableCallback(
    (result: BatchObservableResult) => {
      const stats = view.stats();
      result.observe(ready, view.ready() ? 1 : 0);
      result.observe(storeUp, stats?.storeUp ? 1 : 0);
      for (const sequence of stats?.sequences ?? []) {
        const attributes = { "sequencer.sequence": sequence.name };
        for (const { instrument, pick } of perSequence) {
          const value = pick(sequence);
          if (value !== undefined) result.observe(instrument, Number(value), attributes);
        }
      }
    },
    [ready, storeUp, ...perSequence.map((p) => p.instrument)],
  );
  const commits = meter.createHistogram("sequencer.store.commit.duration", {
    unit: "s",
    description: "Time the store took to commit a block, from the reservation to its answer.",
    advice: { explicitBucketBoundaries: [...COMMIT_BUCKETS_SECONDS] },
  });
  const attributes = {
    "db.system.name": options.store === "postgres" ? "postgresql" : options.store,
  };
  return (_name, _size, startedMs, committedMs) =>
    commits.record(Math.max(0, committedMs - startedMs) / 1000, attributes);
}
