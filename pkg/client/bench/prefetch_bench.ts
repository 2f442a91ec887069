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
import { type ServiceProcess, startService } from "../../../internal/launch/service.ts";
import { SequencerClient } from "../mod.ts";

/** `--name=value` arguments. */
function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const seconds = Number(option("seconds", "5"));
const workers = option("workers", "2");
/** The service's `BATCH_MAX` and the prefetcher's `maxBatch`. */
const batchMax = Number(option("batch-max", "100000"));
let api = option("api", "");
let service: ServiceProcess | undefined;
let dir: string | undefined;
if (api === "") {
  dir = await Deno.makeTempDir({ prefix: "sequencer-prefetch-bench-" });
  service = await startService({
    DATA_DIR: dir,
    LOCK_DIR: dir,
    WORKERS: workers,
    BATCH_MAX: String(batchMax),
  });
  api = service.api;
}

let requests = 0;
const client = new SequencerClient(api, {
  fetch(input, init) {
    requests++;
    return fetch(input, init);
  },
});
const format = (n: number) => Math.round(n).toLocaleString("en-US");

/** Yields to timers and I/O, as an application does between pieces of work. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Takes numbers for `seconds` and prints the rate. `yieldEvery` numbers (0: never) the loop
 * yields to the event loop; a loop that never yields lets no refill answer in while the buffer
 * has numbers, so each refill is waited for once the buffer is empty.
 */
async function measure(label: string, yieldEvery: number): Promise<void> {
  const prefetcher = client.prefetch({ maxBatch: batchMax });
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
    const requestsBefore = requests;
    const started = performance.now();
    const { taken, outOfOrder } = await run(started + seconds * 1000);
    const elapsed = (performance.now() - started) / 1000;
    const after = prefetcher.stats();
    const used = requests - requestsBefore;
    console.log(
      `prefetch, ${label}: ${format(taken / elapsed)} numbers/s delivered by take() over ` +
        `${elapsed.toFixed(2)} s (${format(taken)} numbers)`,
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

try {
  console.log(
    `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, server ${api}` +
      (service === undefined ? "" : ` (embedded store, WORKERS=${workers}, BATCH_MAX=${batchMax})`),
  );
  await measure("a loop that never yields", 0);
  await measure("yielding to the event loop every 65,536 numbers", 65_536);

  const plainEnd = performance.now() + 2000;
  let plain = 0;
  const plainStarted = performance.now();
  while (performance.now() < plainEnd) {
    await client.next();
    plain++;
  }
  const plainElapsed = (performance.now() - plainStarted) / 1000;
  console.log(
    `plain next(): ${format(plain / plainElapsed)} numbers/s, one request each ` +
      `(${format(plain)} requests in ${plainElapsed.toFixed(2)} s, sequential)`,
  );
} finally {
  if (service !== undefined) {
    service.kill("SIGTERM");
    await service.status;
  }
  if (dir !== undefined) await Deno.remove(dir, { recursive: true });
}
