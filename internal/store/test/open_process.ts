/**
 * A replica's start, for `postgres_merge_test.ts`: `deno run -A open_process.ts URL DATA_DIR`
 * opens the store as the service does (`openStore`, merging an embedded store left in DATA_DIR),
 * logging JSON lines to stdout, then closes it. Waits for a line on stdin first, so that the test
 * can start several at once.
 *
 * @module
 */
import { createLogger } from "../../log/log.ts";
import { openStore } from "../open_store.ts";

const [url, dataDir] = Deno.args;
for await (const _ of Deno.stdin.readable) break;
const store = await openStore({ kind: "postgres", url, poolSize: 2, dataDir }, {
  logger: createLogger(),
});
await store.close();
