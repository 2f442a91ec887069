/**
 * A stand-in for a test process, for `postgres_harness_test.ts`: two isolates (as `deno test`
 * runs two test modules) ask for the shared cluster at once; the process prints what each got as
 * one JSON line, then waits to be killed.
 *
 * @module
 */
import { sharedPostgres } from "../../launch/test_cluster.ts";

const ASKER = "shared-cluster-asker";

if ((globalThis as { name?: string }).name === ASKER) {
  const pg = await sharedPostgres();
  const url = await pg.freshDatabase("probe");
  const scope = globalThis as unknown as { postMessage(data: unknown): void; close(): void };
  scope.postMessage({ port: pg.port, socketDir: pg.socketDir, url });
  scope.close();
} else {
  const answers = await Promise.all(
    [0, 1].map(() =>
      new Promise<unknown>((resolve, reject) => {
        const worker = new Worker(import.meta.url, { type: "module", name: ASKER });
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => reject(new Error(event.message));
      })
    ),
  );
  console.log(JSON.stringify({ pid: Deno.pid, answers }));
  // Wait to be killed.
  setInterval(() => {}, 60_000);
}
