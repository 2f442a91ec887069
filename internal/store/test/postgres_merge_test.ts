import assert from "node:assert/strict";
import { formatExportLine } from "../../admin/export_lines.ts";
import { type Block, DEFAULT_SEQUENCE } from "../../domain/domain.ts";
import { createLogger, silentLogger } from "../../log/log.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { openStore } from "../open_store.ts";
import { openPostgresStore, POSTGRES_MIGRATIONS } from "../postgres_store.ts";
import { redactUrl } from "../postgres_url.ts";
import { openSqliteStoreHere } from "../sqlite_store.ts";
import { type ExportRecord, type MergeResult, mergeTarget } from "../store.ts";
import { withSharedPostgres, withSql } from "./_postgres.ts";
import { coded } from "./store_contract.ts";

const MIN = -(2n ** 63n);

const ignore = skipWithoutPostgres(await postgresAvailability(), "PostgreSQL merge tests");

/** Runs `deno run -A <helper> ...args` in `count` processes released at once; their outputs. */
async function runAtOnce(
  helper: string,
  argsOf: (i: number) => string[],
  count: number,
): Promise<{ stdout: string; stderr: string; success: boolean }[]> {
  const children = Array.from({ length: count }, (_, i) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL(helper, import.meta.url).pathname, ...argsOf(i)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn());
  for (const child of children) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    await writer.close();
  }
  const outputs = await Promise.all(children.map((child) => child.output()));
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return outputs.map((o) => ({
    stdout: decode(o.stdout),
    stderr: decode(o.stderr),
    success: o.success,
  }));
}

Deno.test({
  name: "a version 1 PostgreSQL schema migrates in place, keeps its bounds, and works",
  ignore,
  fn: async () => {
    await withSharedPostgres(async (pg) => {
      const url = await pg.freshDatabase("v1");
      await withSql(url, async (sql) => {
        await sql`CREATE TABLE sequencer_schema (
          version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
        for (const statement of POSTGRES_MIGRATIONS[0]) await sql.unsafe(statement);
        await sql`INSERT INTO sequencer_schema (version) VALUES (1)`;
        await sql`INSERT INTO sequencer_sequences (name, start, upper)
                  VALUES ('default', 1, 700), ('orders', 50, 49)`;
      });
      const store = await openPostgresStore(url, { poolSize: 2 });
      try {
        assert.deepEqual(await store.list({ limit: 5 }), [
          { name: "default", start: 1n, upper: 700n, floor: 1n, retired: false, version: 0n },
          { name: "orders", start: 50n, upper: 49n, floor: 50n, retired: false, version: 0n },
        ]);
        assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 5n), { first: 701n, last: 705n });
        // Schema 4: numbering settings.
        const yearly = { reset: "yearly", timezone: "UTC", format: "Y{YYYY}-{N}" } as const;
        assert.deepEqual((await store.create("inv", 1n, yearly)).record, {
          name: "inv",
          start: 1n,
          upper: 0n,
          floor: 1n,
          retired: false,
          version: 0n,
          ...yearly,
        });
        assert.equal((await store.retire("orders")).changed, true);
        assert.deepEqual((await store.changes(0n)).records.map((r) => r.name), ["orders"]);
        await store.heartbeat("replica", 1n);
        assert.deepEqual(await store.lagging(2n, 60_000), ["replica"]);
        // A replica of the previous build inserts without a floor: it gets its start.
        await withSql(
          url,
          (sql) =>
            sql`INSERT INTO sequencer_sequences (name, start, upper) VALUES ('old-build', 7, 6)`,
        );
        assert.equal((await store.get("old-build"))?.floor, 7n);
      } finally {
        await store.close();
      }
      const versions = await withSql(url, (sql) => sql`SELECT version FROM sequencer_schema`);
      assert.deepEqual(versions.map((r) => r.version), [1, 2, 3, 4]);
    });
  },
});

Deno.test({
  name: "merging from 4 processes at once: raise-only, each sequence created once, idempotent",
  ignore,
  fn: async () => {
    await withSharedPostgres(async (pg) => {
      const url = await pg.freshDatabase("merge");
      const store = await openPostgresStore(url, { poolSize: 4 });
      const dir = await Deno.makeTempDir({ prefix: "sequencer-merge-" });
      try {
        // 40 sequences exist already and are being reserved from while the merges run.
        const existing = Array.from({ length: 40 }, (_, i) => `m${i * 60}`);
        for (const name of existing) await store.create(name, 1n);
        // Each process merges 2,400 sequences (3 transactions), with bounds that differ.
        const inputs = [0, 1, 2, 3].map((p) =>
          Array.from({ length: 2400 }, (_, i): ExportRecord => {
            const start = BigInt((i % 7) * 100 - 300);
            const committed = start - 1n + BigInt(((i * 31 + p * 17) % 500) * (i % 4));
            const floor = start + BigInt(((i + p) % 5) * 40);
            return { name: `m${i}`, start, committed, floor, retired: (i + p) % 97 === 0 };
          })
        );
        const files = await Promise.all(inputs.map(async (records, p) => {
          const file = `${dir}/export-${p}.jsonl`;
          await Deno.writeTextFile(file, records.map(formatExportLine).join("\n") + "\n");
          return file;
        }));
        // Reservations on the existing sequences meanwhile.
        let merging = true;
        const reserved = new Map<string, Block[]>(existing.map((name) => [name, []]));
        const reserving = (async () => {
          let i = 0;
          while (merging) {
            const name = existing[i++ % existing.length];
            try {
              reserved.get(name)!.push(await store.reserve(name, 7n));
            } catch (error) {
              coded("retired")(error); // a merge may retire it
            }
          }
        })();
        const outputs = await runAtOnce("./merge_process.ts", (p) => [url, files[p]], 4);
        merging = false;
        await reserving;
        const results = outputs.map((output, p) => {
          assert.ok(output.success, `process ${p} failed: ${output.stderr}`);
          return JSON.parse(output.stdout) as MergeResult;
        });

        const created = results.flatMap((r) => r.created).sort();
        const expectedNew = inputs[0].map((r) => r.name).filter((n) => !existing.includes(n))
          .sort();
        assert.deepEqual(created, expectedNew, "every missing sequence created exactly once");

        for (let i = 0; i < 2400; i++) {
          const name = `m${i}`;
          const targets = inputs.map((records) => mergeTarget(records[i]));
          const isNew = !existing.includes(name);
          const floor = targets.reduce((m, t) => (t.floor > m ? t.floor : m), isNew ? MIN : 1n);
          let upper = targets.reduce((m, t) => (t.upper > m ? t.upper : m), MIN);
          for (const block of reserved.get(name) ?? []) if (block.last > upper) upper = block.last;
          const record = (await store.get(name))!;
          assert.equal(record.start, isNew ? inputs[0][i].start : 1n, name);
          assert.equal(record.floor, floor, `${name} floor`);
          assert.ok(record.upper >= upper, `${name} upper ${record.upper} < ${upper}`);
          if (!isNew) assert.equal(record.upper, upper, `${name} upper`);
          assert.equal(record.retired, inputs.some((records) => records[i].retired), name);
          const changed = isNew || record.floor > 1n || record.retired;
          assert.equal(record.version > 0n, changed, `${name}: a version if and only if changed`);
        }
        // Reservations never overlapped, before or after the merges raised the bounds.
        for (const [name, blocks] of reserved) {
          const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : 1));
          for (let i = 1; i < sorted.length; i++) {
            assert.ok(sorted[i].first > sorted[i - 1].last, `${name}: blocks overlap`);
          }
        }

        const version = (await store.changes(0n)).version;
        assert.deepEqual(await store.merge(inputs[2]), { created: [], raised: [], retired: [] });
        assert.equal((await store.changes(0n)).version, version, "nothing changed, no version");
      } finally {
        await store.close();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "heartbeats older than a day are purged by the next heartbeat (PostgreSQL)",
  ignore,
  fn: async () => {
    await withSharedPostgres(async (pg) => {
      const url = await pg.freshDatabase("heartbeat");
      const store = await openPostgresStore(url, { poolSize: 1 });
      try {
        await store.heartbeat("old", 1n);
        await store.heartbeat("recent", 1n);
        await withSql(url, async (sql) => {
          await sql`UPDATE sequencer_replicas SET seen = seen - interval '25 hours'
                     WHERE replica = 'old'`;
          await store.heartbeat("recent", 2n);
          const rows = await sql`SELECT replica FROM sequencer_replicas`;
          assert.deepEqual(rows.map((r) => r.replica), ["recent"]);
        });
      } finally {
        await store.close();
      }
    });
  },
});

Deno.test({
  name: "a replica opening PostgreSQL merges the embedded store of its DATA_DIR, once",
  ignore,
  fn: async (t) => {
    await withSharedPostgres(async (pg) => {
      const url = await pg.freshDatabase("move");
      const dir = await Deno.makeTempDir({ prefix: "sequencer-move-" });
      const lines: string[] = [];
      const logger = createLogger((l) => lines.push(l));
      const opened: { close(): Promise<void> }[] = [];
      try {
        const embedded = await openSqliteStoreHere(dir);
        const handedOut = new Map<string, bigint>();
        try {
          handedOut.set(DEFAULT_SEQUENCE, (await embedded.reserve(DEFAULT_SEQUENCE, 250n)).last);
          await embedded.create("orders", 1000n);
          handedOut.set("orders", (await embedded.reserve("orders", 100n)).last);
          await embedded.create("gone", 1n);
          await embedded.retire("gone");
          await embedded.create("floored", 1n);
          await embedded.raiseFloor("floored", 5000n);
          handedOut.set("floored", 4999n);
        } finally {
          await embedded.close();
        }
        // PostgreSQL already serves one of them, lower.
        const early = await openPostgresStore(url, { poolSize: 1 });
        opened.push(early);
        await early.reserve(DEFAULT_SEQUENCE, 10n);

        await t.step("three replicas starting at once: one merges, all start", async () => {
          // Processes of their own: a store opens in the calling thread and waits for the
          // embedded store's lock there.
          const outputs = await runAtOnce("./open_process.ts", () => [url, dir], 3);
          for (const output of outputs) assert.ok(output.success, output.stderr);
          const logged = outputs.flatMap((o) => o.stdout.trim().split("\n"));
          const merged = logged.map((l) => JSON.parse(l)).filter((e) =>
            e.msg === "merged embedded store into postgres"
          );
          assert.equal(merged.length, 1, logged.join("\n"));
          assert.equal(merged[0].database, redactUrl(url));
          assert.deepEqual(merged[0].createdNames, ["floored", "gone", "orders"]);
          assert.deepEqual(merged[0].raisedNames, [DEFAULT_SEQUENCE]);
          assert.deepEqual([merged[0].created, merged[0].raised], [3, 1]);
        });

        await t.step("every sequence's first number is above every number handed out", async () => {
          for (const [name, last] of handedOut) {
            const block = await early.reserve(name, 1n);
            assert.ok(block.first > last, `${name}: ${block.first} is not above ${last}`);
          }
          await assert.rejects(early.reserve("gone", 1n), coded("retired"));
          // The replica that was already running learns of the floors through changes.
          const changed = await early.changes(0n);
          assert.deepEqual(
            changed.records.map((r) => r.name).sort(),
            [DEFAULT_SEQUENCE, "floored", "gone", "orders"],
          );
        });

        await t.step(
          "the embedded store refuses to serve again; a later start merges nothing",
          async () => {
            await assert.rejects(openSqliteStoreHere(dir), (error) => {
              coded("unavailable")(error);
              assert.match((error as Error).message, /was merged into PostgreSQL/);
              return true;
            });
            lines.length = 0;
            const again = await openStore(
              { kind: "postgres", url, poolSize: 1, dataDir: dir },
              { logger },
            );
            opened.push(again);
            assert.ok(!lines.some((l) => l.includes("merged embedded store")), lines.join("\n"));
          },
        );

        await t.step("a DATA_DIR without an embedded store is left alone", async () => {
          const empty = await Deno.makeTempDir({ prefix: "sequencer-move-empty-" });
          try {
            const store = await openStore(
              { kind: "postgres", url, poolSize: 1, dataDir: empty },
              { logger: silentLogger },
            );
            opened.push(store);
            assert.deepEqual([...Deno.readDirSync(empty)], []);
          } finally {
            await Deno.remove(empty, { recursive: true });
          }
        });
      } finally {
        await Promise.all(opened.map((s) => s.close()));
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
