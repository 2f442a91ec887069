/**
 * A process that merges exported sequences into PostgreSQL, for `postgres_merge_test.ts`:
 * `deno run -A merge_process.ts URL FILE`, FILE holding one JSON record per line (64-bit values as
 * strings). Waits for a line on stdin first, so that the test can start several at once; prints
 * the merge's result as one JSON line.
 *
 * @module
 */
import { openPostgresStore } from "../postgres_store.ts";
import type { ExportRecord } from "../store.ts";

const [url, file] = Deno.args;
const records: ExportRecord[] = (await Deno.readTextFile(file)).trim().split("\n").map((line) => {
  const r = JSON.parse(line);
  return {
    name: r.name,
    start: BigInt(r.start),
    committed: BigInt(r.committed),
    floor: BigInt(r.floor),
    retired: r.retired,
  };
});
const store = await openPostgresStore(url, { poolSize: 2, timeoutMs: 60_000 });
try {
  for await (const _ of Deno.stdin.readable) break;
  console.log(JSON.stringify(await store.merge(records)));
} finally {
  await store.close();
}
