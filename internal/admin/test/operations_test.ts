import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { type ServiceProcess, spawnService, startService } from "../../launch/service.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";
import { SQLITE_FILE } from "../../store/sqlite_store.ts";
import { eventually } from "../../launch/eventually.ts";
import {
  type Answer,
  assertNoRepeat,
  highest,
  request,
  startLoad,
} from "../../store/test/service_load.ts";
import { runOk } from "./run_cli.ts";

const ignorePg = skipWithoutPostgres(await postgresAvailability(), "moving stores end to end");

const BIG = 9007199254740000n;
const PATHS: [string, string][] = [
  ["default", "/v1/sequence"],
  ["orders", "/v1/sequence/orders"],
  ["default", "/v1/sequence?count=50"],
  ["big", "/v1/sequence/big?count=7"],
];

async function create(service: ServiceProcess, name: string, start: bigint): Promise<void> {
  const res = await request(`${service.api}/v1/sequences/${name}`, {
    method: "PUT",
    body: `{"start": "${start}"}`,
  });
  assert.equal(res.status, 201, res.text);
}

/** Runs load on `service` until `count` more numbers requests were answered; returns them. */
async function loadFor(service: ServiceProcess, count: number): Promise<Answer[]> {
  const load = startLoad(service.api, PATHS, 8);
  try {
    await eventually(`${count} answers`, () => load.answers.length >= count);
  } finally {
    await load.stop();
  }
  return load.answers;
}

async function stop(service: ServiceProcess, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  service.kill(signal);
  await service.status;
}

/** The `sequencer_last_number` of each sequence in a `/debug/metrics` answer. */
function lastNumbers(metrics: string): Map<string, bigint> {
  const numbers = new Map<string, bigint>();
  for (const match of metrics.matchAll(/^sequencer_last_number\{sequence="([^"]+)"\} (-?\d+)$/gm)) {
    numbers.set(match[1], BigInt(match[2]));
  }
  return numbers;
}

/** The committed bound of each sequence in a SQLite store file, read from a copy of it. */
async function boundsIn(file: string): Promise<Map<string, bigint>> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-peek-" });
  try {
    await Deno.copyFile(file, `${dir}/copy.db`);
    const db = new DatabaseSync(`${dir}/copy.db`);
    try {
      const select = db.prepare("SELECT name, upper FROM sequences");
      select.setReadBigInts(true);
      const rows = select.all() as unknown as { name: string; upper: bigint }[];
      return new Map(rows.map((row) => [row.name, row.upper]));
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const FLOORS_FROM = ["the last export (import)", "/debug/metrics' sequencer_last_number (floor)"];

for (const source of FLOORS_FROM) {
  Deno.test(`a backup taken under load, restored, floors from ${source}: no number repeats`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-restore-" });
    const work = await Deno.makeTempDir({ prefix: "sequencer-restore-work-" });
    const env = { DATA_DIR: dir, WORKERS: "2" };
    const answers: Answer[] = [];
    try {
      const service = await startService(env);
      let lastSeen = new Map<string, bigint>();
      try {
        await create(service, "orders", 1000n);
        await create(service, "big", BIG);

        await t.step(
          "the backup, taken under load, holds every number answered before it",
          async () => {
            const load = startLoad(service.api, PATHS, 8);
            try {
              await eventually("1,500 answers", () => load.answers.length >= 1_500);
              const before = highest(load.answers);
              await runOk(["backup", `${work}/backup.db`, "--data-dir", dir]);
              const answeredAt = load.answers.length;
              await eventually(
                "1,500 more answers",
                () => load.answers.length >= answeredAt + 1_500,
              );
              const bounds = await boundsIn(`${work}/backup.db`);
              for (const [sequence, last] of before) {
                assert.ok(bounds.get(sequence)! >= last, `${sequence}: backup bound below ${last}`);
              }
            } finally {
              await load.stop();
              answers.push(...load.answers);
            }
            // What the operator has: the last export, or the metrics' last numbers.
            await runOk(["export", `${work}/last.jsonl`, "--data-dir", dir]);
            lastSeen = lastNumbers((await request(`${service.debug}/debug/metrics`)).text);
            assert.deepEqual([...lastSeen.keys()].sort(), ["big", "default", "orders"]);
          },
        );
      } finally {
        // A crash, and the disk is lost.
        await stop(service, "SIGKILL");
      }
      for (const suffix of ["", "-wal", "-shm"]) {
        await Deno.remove(`${dir}/${SQLITE_FILE}${suffix}`).catch(() => {});
      }

      await t.step(
        "restored, the service refuses to start until the floors are raised",
        async () => {
          assert.match(
            await runOk(["restore", `${work}/backup.db`, "--data-dir", dir]),
            /raise the floors above every number handed out since the backup/,
          );
          const refused = await spawnService(env);
          const { code, stderr } = await refused.status;
          assert.equal(code, 1, stderr);
          assert.match(stderr, /is an older copy of this store/);
        },
      );

      await t.step(`floors raised from ${source}; it starts above every number`, async () => {
        if (source === FLOORS_FROM[0]) {
          assert.match(
            await runOk(["import", `${work}/last.jsonl`, "--data-dir", dir]),
            /\nraised 3: big, default, orders\n/,
          );
        } else {
          for (const [sequence, last] of lastSeen) {
            await runOk(["floor", sequence, `${last + 1n}`], { DATA_DIR: dir });
          }
        }
        const service = await startService(env);
        try {
          const after = await loadFor(service, 1_500);
          const top = highest(answers);
          for (const answer of after) {
            assert.ok(answer.first > top.get(answer.sequence)!, `${answer.sequence} went back`);
          }
          answers.push(...after);
        } finally {
          await stop(service);
        }
        assertNoRepeat(answers);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  });
}

Deno.test({
  name: "embedded → PostgreSQL with the same DATA_DIR: every first number is above all before",
  ignore: ignorePg,
  fn: async (t) => {
    const pg = await sharedPostgres();
    const url = await pg.freshDatabase("e2e_move");
    const dir = await Deno.makeTempDir({ prefix: "sequencer-move-e2e-" });
    const embeddedEnv = { DATA_DIR: dir, WORKERS: "2" };
    try {
      const embedded = await startService(embeddedEnv);
      let before: Answer[];
      try {
        await create(embedded, "orders", 1000n);
        await create(embedded, "big", BIG);
        before = await loadFor(embedded, 3_000);
      } finally {
        await stop(embedded);
      }
      const top = highest(before);

      await t.step(
        "replicas on PostgreSQL merge the embedded store and start above it",
        async () => {
          const replicas = await Promise.all(
            [0, 1].map(() => startService({ ...embeddedEnv, DATABASE_URL: url })),
          );
          try {
            const merged = replicas.flatMap((r) =>
              r.lines.filter((l) => l.includes("merged embedded store into postgres"))
            );
            assert.equal(merged.length, 1, merged.join("\n"));
            assert.deepEqual(JSON.parse(merged[0]).createdNames, ["big", "orders"]);
            const after = (await Promise.all(replicas.map((r) => loadFor(r, 1_000)))).flat();
            for (const answer of after) {
              assert.ok(
                answer.first > top.get(answer.sequence)!,
                `${answer.sequence}: ${answer.first} is not above ${top.get(answer.sequence)}`,
              );
            }
            assertNoRepeat([...before, ...after]);
          } finally {
            await Promise.all(replicas.map((r) => stop(r)));
          }
        },
      );

      await t.step("the embedded store, merged, refuses to serve again", async () => {
        const again = await spawnService(embeddedEnv);
        const { code, stderr } = await again.status;
        assert.equal(code, 1, stderr);
        assert.match(stderr, /was merged into PostgreSQL .* on \d{4}-/);
        assert.match(stderr, /deno task sequences export/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
