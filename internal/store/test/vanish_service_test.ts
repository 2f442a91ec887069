import assert from "node:assert/strict";
import { type ServiceProcess, spawnService, startService } from "../../launch/service.ts";
import { runOk } from "../../admin/test/run_cli.ts";
import { RESET_CONFIRMATION } from "../../admin/cli.ts";
import { openSqliteStoreHere, SQLITE_FILE } from "../sqlite_store.ts";
import { eventually } from "../../launch/eventually.ts";
import { assertNoRepeat, request, startLoad } from "./service_load.ts";

/** Small blocks, so that "within one block" is a few hundred numbers. */
const BLOCK_SIZE_MAX = 500n;
const ENV = { WORKERS: "2", BLOCK_SIZE_MIN: "50", BLOCK_SIZE_MAX: `${BLOCK_SIZE_MAX}` };
const PATHS: [string, string][] = [
  ["default", "/v1/sequence"],
  ["orders", "/v1/sequence/orders"],
  ["default", "/v1/sequence?count=20"],
];

/** Ways the store file goes away under the running service, and what the restart then says. */
const VANISHINGS: {
  how: string;
  vanish: (path: string, other: string) => Promise<void>;
  restart: RegExp;
}[] = [
  {
    how: "deleted",
    vanish: (path) => Deno.remove(path),
    restart: /sequencer\.db" is missing, but .*sequencer\.id shows that a store/,
  },
  {
    how: "truncated",
    vanish: (path) => Deno.truncate(path, 0),
    // SQLite writes its log into the truncated file when the process closes it, so the file may
    // look whole again: the marker's note of the failure refuses it then.
    restart: /sequencer\.db" is empty, but|sequencer\.db" was truncated under the running process/,
  },
  {
    how: "replaced by another store",
    vanish: async (path, other) => {
      await Deno.copyFile(`${other}/${SQLITE_FILE}`, `${path}.new`);
      await Deno.rename(`${path}.new`, path);
    },
    // Or, when the service's write-ahead log was replayed onto the new file at the restart, the
    // marker's note of the failure.
    restart: /is another store \(id [0-9a-f-]+\) than the one|was replaced under the running/,
  },
];

async function stop(service: ServiceProcess): Promise<void> {
  service.kill("SIGTERM");
  await service.status;
}

for (const { how, vanish, restart } of VANISHINGS) {
  Deno.test(
    `the store file ${how} under load: 503 within a block, no repeat, a restart refuses until reset`,
    async (t) => {
      const dir = await Deno.makeTempDir({ prefix: "sequencer-vanish-" });
      const other = await Deno.makeTempDir({ prefix: "sequencer-vanish-other-" });
      const env = { ...ENV, DATA_DIR: dir };
      try {
        await (await openSqliteStoreHere(other)).close();
        const service = await startService(env);
        const load = (() => {
          try {
            return startLoad(service.api, PATHS, 8);
          } catch (error) {
            service.kill("SIGKILL");
            throw error;
          }
        })();
        try {
          const created = await request(`${service.api}/v1/sequences/orders`, {
            method: "PUT",
            body: '{"start": 1000}',
          });
          assert.equal(created.status, 201, created.text);
          await eventually("2,000 answers", () => load.answers.length >= 2_000);

          // When the file is gone: requests sent before may still be answered from blocks
          // reserved while it was there (on a loaded machine the removal itself takes a while).
          let vanishedAt = Infinity;
          await t.step(`${how}: readiness and the API answer 503 JSON`, async () => {
            await vanish(`${dir}/${SQLITE_FILE}`, other);
            vanishedAt = performance.now();
            await eventually("readiness is 503", async () => {
              return (await request(`${service.debug}/debug/readiness`)).status === 503;
            });
            await eventually(
              "a number request is answered 503 JSON",
              () =>
                load.failures.some((f) =>
                  f.sentAt > vanishedAt && f.status === 503 &&
                  JSON.parse(f.body).status === "error"
                ),
            );
          });

          await t.step("no number at all once the blocks held are used up", async () => {
            // Quiet: 300 requests in a row without a number.
            let answered = load.answers.length;
            let failedAt = load.failed;
            await eventually("300 requests in a row get no number", () => {
              if (load.answers.length !== answered) {
                answered = load.answers.length;
                failedAt = load.failed;
              }
              return load.failed - failedAt >= 300;
            });
            const after = load.answers.filter((a) => a.sentAt > vanishedAt);
            for (const sequence of ["default", "orders"]) {
              const numbers = after.filter((a) => a.sequence === sequence)
                .reduce((sum, a) => sum + (a.last - a.first + 1n), 0n);
              // At most the block in use, the one reserved ahead, and one whose reservation
              // checked the file just before it went and committed just after.
              assert.ok(
                numbers <= 3n * BLOCK_SIZE_MAX,
                `${sequence}: ${numbers} numbers handed out after the file was ${how}`,
              );
            }
            const errors = service.lines.filter((l) => l.includes('"level":"error"'));
            assert.ok(
              errors.some((l) => /store failed closed/.test(l) && /refusing to hand out/.test(l)),
              errors.join("\n"),
            );
          });
        } finally {
          await load.stop();
          await stop(service);
        }
        assertNoRepeat(load.answers);

        await t.step("the restart refuses with how to restore or start anew", async () => {
          const again = await spawnService(env);
          const { code, stderr } = await again.status;
          assert.equal(code, 1, stderr);
          assert.match(stderr, restart);
          assert.match(stderr, /deno task sequences restore BACKUP_FILE/);
          assert.match(stderr, /deno task sequences reset --i-understand-numbers-restart/);
        });

        await t.step("reset, deliberately, starts anew", async () => {
          await runOk(["reset", RESET_CONFIRMATION, "--data-dir", dir]);
          const fresh = await startService(env);
          try {
            const first = await request(`${fresh.api}/v1/sequence`);
            assert.equal(first.status, 200, first.text);
            assert.match(first.text, /"number":1\b/);
          } finally {
            await stop(fresh);
          }
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
        await Deno.remove(other, { recursive: true });
      }
    },
  );
}
