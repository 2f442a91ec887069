/**
 * Throughput of the prefetcher: numbers per second delivered to the caller by `take()` in one
 * process, against a real local service (started here on the embedded store, or `--api=URL`),
 * and the server requests that took. For contrast, plain `next()` calls (one request each).
 *
 * ```sh
 * deno run --allow-net --allow-env --allow-sys --allow-read --allow-write --allow-run \
 *   pkg/client/bench/prefetch_bench.ts [--seconds=5] [--workers=2] [--batch-max=100000] \
 *   [--api=http://host:port]
 * ```
 *
 * Target: at least 10,000,000 numbers per second (Tinyid publishes "more than 10M QPS" for its
 * cached client). Not a test: it prints what it measured.
 *
 * @module
 */
import { startService } from "../../../internal/launch/service.ts";
import { SequencerClient } from "../mod.ts";

/** What to measure, from the command line. */
interface BenchOptions {
  /** Seconds of each measurement. */
  seconds: number;
  /** `WORKERS` of the service started here. */
  workers: string;
  /** The service's `BATCH_MAX` and the prefetcher's `maxBatch`. */
  batchMax: number;
  /** A running service to use instead of starting one. */
  api: string;
}

/** `--name=value` of `args`, else `fallback`. */
function option(args: string[], name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

function format(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Yields to timers and I/O, as an application does between pieces of work. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A client that counts the HTTP requests it sends. */
function countingClient(api: string): { client: SequencerClient; requests: () => number } {
  let requests = 0;
  const client = new SequencerClient(api, {
    fetch(input, init) {
      requests++;
      return fetch(input, init);
    },
  });
  return { client, requests: () => requests };
}

/**
 * Takes numbers for `options.seconds` and prints the rate. Every `yieldEvery` numbers (0: never)
 * the loop yields to the event loop; a loop that never yields lets no refill answer in while the
 * buffer has numbers, so each refill is waited for once the buffer is empty.
 */
async function measure(
  api: string,
  yieldEvery: number,
  options: BenchOptions & { label: string },
): Promise<void> {
  const { client, requests } = countingClient(api);
  const prefetcher = client.prefetch({ maxBatch: options.batchMax });
  const chunk = 16_384;
  const run = async (until: number) => {
    let taken = 0;
    let previous = -1n;
    let outOfOrder = 0;
    while (performance.now() < until) {
      for (let i = 0; i < chunk; i++) {
        let n = prefetcher.tryTake();
        if (n === undefined) n = await prefetcher.take();
        if (n <= previous) outOfOrder++;
        previous = n;
      }
      taken += chunk;
      if (yieldEvery > 0 && taken % yieldEvery === 0) await yieldToEventLoop();
    }
    return { taken, outOfOrder };
  };
  try {
    await run(performance.now() + 1000); // warm-up: the batch grows to its size under this load
    const before = prefetcher.stats();
    const requestsBefore = requests();
    const started = performance.now();
    const { taken, outOfOrder } = await run(started + options.seconds * 1000);
    const elapsed = (performance.now() - started) / 1000;
    const after = prefetcher.stats();
    const used = requests() - requestsBefore;
    console.log(
      `prefetch, ${options.label}: ${format(taken / elapsed)} numbers/s delivered by take() ` +
        `over ${elapsed.toFixed(2)} s (${format(taken)} numbers)`,
    );
    console.log(
      `  server requests: ${format(used)} (${format(used / elapsed)}/s), ` +
        `${format(taken / Math.max(1, used))} numbers per request; batch size ` +
        `${format(after.batchSize)}; takes that waited for a refill: ${
          format(after.waits - before.waits)
        }; out of order: ${outOfOrder}; refill failures: ${after.failures - before.failures}`,
    );
  } finally {
    await prefetcher.close();
  }
}

/** Sequential plain `next()` calls for two seconds. */
async function measurePlain(api: string): Promise<void> {
  const { client } = countingClient(api);
  const started = performance.now();
  let plain = 0;
  while (performance.now() < started + 2000) {
    await client.next();
    plain++;
  }
  const elapsed = (performance.now() - started) / 1000;
  console.log(
    `plain next(): ${format(plain / elapsed)} numbers/s, one request each ` +
      `(${format(plain)} requests in ${elapsed.toFixed(2)} s, sequential)`,
  );
}

/** Runs the benchmark with `args` (see the module documentation). */
async function main(args: string[]): Promise<void> {
  const options: BenchOptions = {
    seconds: Number(option(args, "seconds", "5")),
    workers: option(args, "workers", "2"),
    batchMax: Number(option(args, "batch-max", "100000")),
    api: option(args, "api", ""),
  };
  const dir = options.api === ""
    ? await Deno.makeTempDir({ prefix: "sequencer-prefetch-bench-" })
    : undefined;
  const service = dir === undefined ? undefined : await startService({
    DATA_DIR: dir,
    LOCK_DIR: dir,
    WORKERS: options.workers,
    BATCH_MAX: String(options.batchMax),
  });
  const api = service?.api ?? options.api;
  try {
    console.log(
      `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, server ${api}` +
        (service === undefined
          ? ""
          : ` (embedded store, WORKERS=${options.workers}, BATCH_MAX=${options.batchMax})`),
    );
    await measure(api, 0, { ...options, label: "a loop that never yields" });
    await measure(api, 65_536, {
      ...options,
      label: "yielding to the event loop every 65,536 numbers",
    });
    await measurePlain(api);
  } finally {
    if (service !== undefined) {
      service.kill("SIGTERM");
      await service.status;
    }
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main(Deno.args);
