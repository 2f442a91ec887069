/**
 * Using the client from code, against a running service (`make run` serves one on :3000):
 *
 * ```sh
 * deno run --allow-net examples/client.ts [http://localhost:3000]
 * ```
 *
 * @module
 */
import { SequencerClient, SequencerClientError } from "../pkg/client/mod.ts";

const client = new SequencerClient(Deno.args[0] ?? "http://localhost:3000", {
  timeoutMs: 10_000, // per call, retries included
  onRetry: (e) =>
    console.error(`retrying ${e.method} ${e.path} in ${e.delayMs} ms: ${e.error.code}`),
});

// One number at a time: a bigint, exact beyond 2^53.
console.log("next:", await client.next());

// A named sequence (created once; the same start again is fine) and a batch of 100.
await client.create("invoices", 1000n);
const batch = await client.nextBatch(100, { sequence: "invoices" });
console.log(`batch: ${batch.first}..${batch.last} (${batch.count})`);

// Errors carry the server's code.
try {
  await client.next({ sequence: "no-such-sequence" });
} catch (error) {
  if (!(error instanceof SequencerClientError)) throw error;
  console.log(`error: ${error.code} (HTTP ${error.status}): ${error.message}`);
}

// Prefetch: numbers from a local buffer refilled in the background. Numbers still buffered
// when the process exits are lost: a gap in the sequence, never a repeat.
const ids = client.prefetch({ sequence: "invoices" });
try {
  const taken: bigint[] = [];
  for (let i = 0; i < 5; i++) taken.push(ids.tryTake() ?? await ids.take());
  console.log("prefetched:", taken.join(", "), ids.stats());
} finally {
  await ids.close();
}

for await (const sequence of client.listAll()) {
  console.log(`${sequence.name}: start ${sequence.start}, committed ${sequence.committed}`);
}
