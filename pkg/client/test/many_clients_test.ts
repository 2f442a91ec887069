/**
 * Many clients on one real service, on the embedded store and on PostgreSQL: 20 prefetching and
 * 20 plain clients take numbers of two sequences at once; midway the service gets SIGTERM and is
 * started again on the same data (same port); the clients see their requests fail, retry, and go
 * on. No number is ever handed out twice, and each is within what the store committed.
 */
import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../../internal/launch/service.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../../internal/launch/postgres.ts";
import { sharedPostgres } from "../../../internal/launch/test_cluster.ts";
import { type Prefetcher, SequencerClient, SequencerClientError } from "../mod.ts";
import { DEADLINE_MS, poll } from "./_helpers.ts";

const PREFETCHING = 20;
const PLAIN = 20;
/** Numbers each client takes before the restart, and again after it. */
const PER_PHASE = 150;
const SEQUENCES = ["default", "orders"];

interface Tally {
  /** Numbers taken since the phase began. */
  taken: number;
  /** Errors that reached the caller, by code (the client's retries hide most). */
  errors: Map<string, number>;
}

/** Yields to timers and I/O, as an application does between two numbers. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function manyClientsAcrossARestart(env: Record<string, string>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-client-many-" });
  const base = { DATA_DIR: dir, LOCK_DIR: dir, WORKERS: "2", ...env };
  let service: ServiceProcess = await startService(base);
  const port = new URL(service.api).port;
  let retries = 0;
  const options = {
    timeoutMs: DEADLINE_MS,
    attemptTimeoutMs: 10_000,
    retry: { attempts: Infinity, initialDelayMs: 10, maxDelayMs: 250 },
    onRetry: () => retries++,
  };
  const seen = new Map(SEQUENCES.map((name) => [name, new Set<bigint>()]));
  const repeats: string[] = [];
  const record = (sequence: string, n: bigint) => {
    const set = seen.get(sequence)!;
    if (set.has(n)) repeats.push(`${sequence} ${n}`);
    set.add(n);
  };
  const tallies: Tally[] = [];
  const prefetchers: Prefetcher[] = [];
  let stop = false;

  /** One client's loop: take numbers until told to stop; errors are counted and it goes on. */
  const run = async (take: () => Promise<void>, tally: Tally) => {
    while (!stop) {
      try {
        await take();
      } catch (error) {
        if (!(error instanceof SequencerClientError)) throw error;
        tally.errors.set(error.code, (tally.errors.get(error.code) ?? 0) + 1);
      }
      await yieldToEventLoop();
    }
  };

  const loops: Promise<void>[] = [];
  let ended: PromiseSettledResult<void>[] = [];
  try {
    try {
      await new SequencerClient(service.api).create("orders", 1000);
      for (let i = 0; i < PREFETCHING; i++) {
        const sequence = SEQUENCES[i % 2];
        const prefetcher = new SequencerClient(service.api, options).prefetch({
          sequence,
          initialBatch: 20,
          maxBatch: 500,
          batchLifetimeMs: 200,
        });
        prefetchers.push(prefetcher);
        const tally: Tally = { taken: 0, errors: new Map() };
        tallies.push(tally);
        loops.push(run(async () => {
          record(sequence, prefetcher.tryTake() ?? await prefetcher.take());
          tally.taken++;
        }, tally));
      }
      for (let i = 0; i < PLAIN; i++) {
        const sequence = SEQUENCES[i % 2];
        const client = new SequencerClient(service.api, options);
        const tally: Tally = { taken: 0, errors: new Map() };
        tallies.push(tally);
        const count = 1 + (i % 4); // 1 is next(), more is nextBatch
        loops.push(run(async () => {
          if (count === 1) {
            record(sequence, await client.next({ sequence }));
          } else {
            const batch = await client.nextBatch(count, { sequence });
            for (let n = batch.first; n <= batch.last; n++) record(sequence, n);
          }
          tally.taken += count;
        }, tally));
      }

      const everyClientTook = (what: string, batchesBefore?: number[]) =>
        poll(what, () =>
          (tallies.every((t) => t.taken >= PER_PHASE) &&
            prefetchers.every((p, i) => p.stats().batches > (batchesBefore?.[i] ?? 0))) ||
          undefined);
      await everyClientTook(`every client took ${PER_PHASE} numbers`);

      service.kill("SIGTERM");
      const stopped = await service.status;
      assert.equal(stopped.code, 0, stopped.stderr);
      const retriesBefore = retries;
      const batchesBefore = prefetchers.map((p) => p.stats().batches);
      for (const tally of tallies) tally.taken = 0;
      service = await startService({ ...base, API_PORT: port });
      // Each prefetcher must also have refilled from the new process, not only from its buffer.
      await everyClientTook(
        `every client took ${PER_PHASE} numbers after the restart, every prefetcher refilled`,
        batchesBefore,
      );
      assert.ok(retries > retriesBefore, "no client saw the restart and retried");
    } finally {
      stop = true;
      ended = await Promise.allSettled(loops);
      await Promise.all(prefetchers.map((p) => p.close()));
    }
    for (const result of ended) {
      if (result.status === "rejected") throw result.reason;
    }
    assert.deepStrictEqual(repeats.slice(0, 10), [], `${repeats.length} numbers repeated`);
    const admin = new SequencerClient(service.api, options);
    for (const [name, set] of seen) {
      const { committed } = await admin.get(name);
      const max = [...set].reduce((a, b) => (a > b ? a : b));
      assert.ok(max <= committed, `${name}: ${max} was handed out above committed ${committed}`);
    }
    const codes = new Set(tallies.flatMap((t) => [...t.errors.keys()]));
    for (const code of codes) {
      assert.ok(["network", "timeout", "unavailable"].includes(code), `unexpected ${code}`);
    }
  } finally {
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("40 clients across a service restart: no number twice (embedded store)", async () => {
  await manyClientsAcrossARestart({});
});

Deno.test({
  name: "40 clients across a service restart: no number twice (PostgreSQL)",
  ignore: skipWithoutPostgres(await postgresAvailability(), "the client tests on PostgreSQL"),
  async fn() {
    const pg = await sharedPostgres();
    await manyClientsAcrossARestart({ DATABASE_URL: await pg.freshDatabase("client_many") });
  },
});
