import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DEFAULT_SEQUENCE, SequencerError } from "../../domain/domain.ts";
import { createLogger } from "../../log/log.ts";
import { createVersion1, SQLITE_SCHEMA_VERSION } from "../sqlite_schema.ts";
import { openSqliteStoreHere, RESET_COMMAND, SQLITE_FILE } from "../sqlite_store.ts";
import { openSqliteStore } from "../sqlite_thread.ts";
import { MARKER_FILE, readMarker } from "../store_marker.ts";
import { eventually } from "../../launch/eventually.ts";
import { coded } from "./store_contract.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-guard-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A predicate for `assert.rejects`: `unavailable`, its message matching every pattern. */
function refused(...patterns: RegExp[]): (error: unknown) => boolean {
  return (error) => {
    coded("unavailable")(error);
    for (const pattern of patterns) assert.match((error as Error).message, pattern);
    return true;
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes a store in `dir` with a few reserved numbers; returns the DB's generation. */
async function makeStore(dir: string): Promise<void> {
  const store = await openSqliteStoreHere(dir);
  await store.create("orders", 10n);
  await store.reserve(DEFAULT_SEQUENCE, 100n);
  await store.reserve("orders", 5n);
  await store.close();
}

const HOW_TO_RECOVER = [/sequences restore BACKUP_FILE/, new RegExp(RESET_COMMAND)];

Deno.test("a version 1 store made by the old code opens in place, keeps its bounds, works", async () => {
  await withDir(async (dir) => {
    const old = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
    old.exec("PRAGMA journal_mode = WAL");
    createVersion1(old);
    old.exec(`INSERT INTO sequences (name, start, upper) VALUES ('default', 1, 500),
      ('orders', 10, 99), ('neg', -5, -6)`);
    old.close();
    const store = await openSqliteStoreHere(dir);
    try {
      assert.deepEqual(await store.list({ limit: 10 }), [
        { name: "default", start: 1n, upper: 500n, floor: 1n, retired: false, version: 0n },
        { name: "neg", start: -5n, upper: -6n, floor: -5n, retired: false, version: 0n },
        { name: "orders", start: 10n, upper: 99n, floor: 10n, retired: false, version: 0n },
      ]);
      assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 10n), { first: 501n, last: 510n });
      // Schema 4: numbering settings.
      const daily = { reset: "daily", timezone: "Asia/Tokyo" } as const;
      assert.deepEqual((await store.create("day", 1n, daily)).record, {
        name: "day",
        start: 1n,
        upper: 0n,
        floor: 1n,
        retired: false,
        version: 0n,
        ...daily,
      });
      assert.equal((await store.raiseFloor("orders", 200n)).record.upper, 199n);
      assert.deepEqual(await store.changes(0n), {
        version: 1n,
        records: [
          { name: "orders", start: 10n, upper: 199n, floor: 200n, retired: false, version: 1n },
        ],
      });
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
    const { user_version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
    db.close();
    assert.equal(user_version, SQLITE_SCHEMA_VERSION);
    // A row inserted without a floor, as the old code did, gets its start as its floor.
    const later = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
    later.exec("INSERT INTO sequences (name, start, upper) VALUES ('late', 40, 39)");
    later.close();
    const reopened = await openSqliteStoreHere(dir);
    try {
      assert.equal((await reopened.get("late"))?.floor, 40n);
    } finally {
      await reopened.close();
    }
    assert.ok(readMarker(`${dir}/${MARKER_FILE}`)?.storeId);
  });
});

Deno.test("a DATA_DIR whose store vanished refuses to start, saying how to recover", async (t) => {
  await t.step("the database deleted: refused, and nothing is created in its place", async () => {
    await withDir(async (dir) => {
      await makeStore(dir);
      await Deno.remove(`${dir}/${SQLITE_FILE}`);
      await assert.rejects(
        openSqliteStoreHere(dir),
        refused(
          /sequencer\.db" is missing, but .*sequencer\.id shows that a store/,
          ...HOW_TO_RECOVER,
        ),
      );
      assert.equal(exists(`${dir}/${SQLITE_FILE}`), false);
      await assert.rejects(openSqliteStore(dir), refused(/is missing/));
    });
  });

  await t.step("the database emptied: refused", async () => {
    await withDir(async (dir) => {
      await makeStore(dir);
      await Deno.truncate(`${dir}/${SQLITE_FILE}`, 0);
      await assert.rejects(openSqliteStoreHere(dir), refused(/is empty/, ...HOW_TO_RECOVER));
    });
  });

  await t.step("the database replaced by another store: refused", async () => {
    await withDir(async (dir) => {
      await withDir(async (other) => {
        await makeStore(dir);
        await makeStore(other);
        await Deno.copyFile(`${other}/${SQLITE_FILE}`, `${dir}/${SQLITE_FILE}`);
        await assert.rejects(
          openSqliteStoreHere(dir),
          refused(/is another store \(id [0-9a-f-]+\) than the one/, ...HOW_TO_RECOVER),
        );
      });
    });
  });

  await t.step("a write-ahead log without its database (and no marker): refused", async () => {
    await withDir(async (dir) => {
      await Deno.writeFile(`${dir}/${SQLITE_FILE}-wal`, new Uint8Array(4096));
      await assert.rejects(
        openSqliteStoreHere(dir),
        refused(/write-ahead log .* shows that a store existed here/, ...HOW_TO_RECOVER),
      );
    });
  });

  await t.step("a marker that cannot be read: refused, naming it", async () => {
    await withDir(async (dir) => {
      await makeStore(dir);
      await Deno.writeTextFile(`${dir}/${MARKER_FILE}`, "{not json");
      await assert.rejects(openSqliteStoreHere(dir), refused(/sequencer\.id" cannot be read/));
    });
  });

  await t.step("an intact store whose marker was removed opens and gets it back", async () => {
    await withDir(async (dir) => {
      await makeStore(dir);
      const marker = readMarker(`${dir}/${MARKER_FILE}`)!;
      await Deno.remove(`${dir}/${MARKER_FILE}`);
      const store = await openSqliteStoreHere(dir);
      await store.close();
      assert.equal(readMarker(`${dir}/${MARKER_FILE}`)?.storeId, marker.storeId);
    });
  });

  await t.step("without a store, create: false refuses instead of creating one", async () => {
    await withDir(async (dir) => {
      await assert.rejects(
        openSqliteStoreHere(dir, { create: false }),
        refused(/holds no store/),
      );
      assert.equal(exists(`${dir}/${SQLITE_FILE}`), false);
    });
  });
});

Deno.test("an older copy of the store refuses to start until its floors are raised", async (t) => {
  await withDir(async (dir) => {
    const backup = `${dir}/backup.db`;
    const store = await openSqliteStoreHere(dir);
    let later;
    try {
      await store.reserve(DEFAULT_SEQUENCE, 100n);
      await store.backup(backup);
      await assert.rejects(store.backup(backup), coded("invalid"));
      later = await store.reserve(DEFAULT_SEQUENCE, 100n);
    } finally {
      await store.close();
    }
    const marker = readMarker(`${dir}/${MARKER_FILE}`)!;
    assert.equal(marker.generation, 2n, "close writes the last generation");

    await t.step("the backup put in place is refused as an older copy", async () => {
      await Deno.copyFile(backup, `${dir}/${SQLITE_FILE}`);
      await assert.rejects(
        openSqliteStoreHere(dir),
        refused(
          /is an older copy of this store \(generation 1, but it had reached 2/,
          /sequences import LAST_EXPORT/,
          /sequences floor NAME N/,
        ),
      );
    });

    await t.step("once its floors are raised and the copy accepted, it starts above", async () => {
      const restored = await openSqliteStoreHere(dir, { acceptRestored: true });
      assert.equal((await restored.get(DEFAULT_SEQUENCE))?.upper, 100n);
      await restored.raiseFloor(DEFAULT_SEQUENCE, later.last + 1n);
      restored.acceptGeneration();
      await restored.close();
      const reopened = await openSqliteStoreHere(dir);
      try {
        const block = await reopened.reserve(DEFAULT_SEQUENCE, 10n);
        assert.ok(block.first > later.last, `${block.first} repeats a number`);
      } finally {
        await reopened.close();
      }
    });
  });
});

Deno.test("the marker's generation follows reservations, asynchronously", async () => {
  await withDir(async (dir) => {
    const store = await openSqliteStoreHere(dir);
    try {
      for (let i = 0; i < 5; i++) await store.reserve(DEFAULT_SEQUENCE, 1n);
      await eventually(
        "the marker reaches generation 5",
        () => readMarker(`${dir}/${MARKER_FILE}`)!.generation === 5n,
      );
    } finally {
      await store.close();
    }
  });
});

/** Ways to pull the store file from under a running process. */
const VANISHINGS: [string, RegExp, (path: string) => Promise<void>][] = [
  ["deleted", /was deleted under the running process/, (path) => Deno.remove(path)],
  ["truncated to nothing", /was truncated under/, (path) => Deno.truncate(path, 0)],
  ["truncated to half", /was truncated under/, async (path) => {
    await Deno.truncate(path, Math.floor((await Deno.stat(path)).size / 2));
  }],
  ["replaced", /was replaced under/, async (path) => {
    await Deno.writeTextFile(`${path}.other`, "x".repeat(100_000));
    await Deno.rename(`${path}.other`, path);
  }],
];

Deno.test("a store file pulled from under the running store fails closed, for good", async (t) => {
  for (const [how, pattern, vanish] of VANISHINGS) {
    await t.step(`${how}: every call refuses, and one error line is logged`, async () => {
      await withDir(async (dir) => {
        const lines: string[] = [];
        const store = await openSqliteStore(dir, { logger: createLogger((l) => lines.push(l)) });
        try {
          // Enough data that the file has grown past its first page.
          for (let i = 0; i < 50; i++) await store.create(`s${i}`, 1n);
          await store.reserve(DEFAULT_SEQUENCE, 10n);
          await vanish(`${dir}/${SQLITE_FILE}`);
          await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 10n), refused(pattern));
          for (
            const call of [
              () => store.reserve(DEFAULT_SEQUENCE, 1n),
              () => store.ping(),
              () => store.get(DEFAULT_SEQUENCE),
              () => store.list({ limit: 5 }),
              () => store.create("new", 1n),
              () => store.changes(0n),
            ]
          ) {
            await assert.rejects(call(), refused(pattern, /refusing to hand out numbers/));
          }
          await eventually(
            "the error is logged",
            () => lines.some((l) => l.includes("failed closed")),
          );
          const errors = lines.filter((l) => JSON.parse(l).level === "error");
          assert.equal(errors.length, 1, errors.join("\n"));
          assert.match(JSON.parse(errors[0]).error, pattern);
        } finally {
          await store.close();
        }
      });
    });
  }

  await t.step("ping notices it too, without a reservation", async () => {
    await withDir(async (dir) => {
      const store = await openSqliteStoreHere(dir);
      try {
        await store.ping();
        await Deno.remove(`${dir}/${SQLITE_FILE}`);
        await assert.rejects(store.ping(), refused(/was deleted under/));
        await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 1n), refused(/was deleted under/));
      } finally {
        await store.close();
      }
    });
  });

  await t.step(
    "the restart after a truncation refuses, though closing refilled the file",
    async () => {
      await withDir(async (dir) => {
        const store = await openSqliteStore(dir);
        for (let i = 0; i < 20; i++) await store.reserve(DEFAULT_SEQUENCE, 10n);
        await Deno.truncate(`${dir}/${SQLITE_FILE}`, 0);
        await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 1n), refused(/was truncated under/));
        await store.close();
        assert.ok((await Deno.stat(`${dir}/${SQLITE_FILE}`)).size > 0, "SQLite wrote its log back");
        await assert.rejects(
          openSqliteStoreHere(dir),
          refused(
            /pulled from under it .*was truncated under the running process/,
            ...HOW_TO_RECOVER,
          ),
        );
        // Raising floors on the file in place (as floor and import do) accepts it.
        const accepted = await openSqliteStoreHere(dir, { acceptRestored: true });
        await accepted.raiseFloor(DEFAULT_SEQUENCE, 1000n);
        accepted.acceptGeneration();
        await accepted.close();
        await (await openSqliteStoreHere(dir)).close();
      });
    },
  );

  await t.step("the restart after a deletion refuses, and the marker still says why", async () => {
    await withDir(async (dir) => {
      const store = await openSqliteStoreHere(dir);
      await store.reserve(DEFAULT_SEQUENCE, 10n);
      await Deno.remove(`${dir}/${SQLITE_FILE}`);
      await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 1n), SequencerError);
      await store.close();
      for (const suffix of ["-wal", "-shm"]) {
        await Deno.remove(`${dir}/${SQLITE_FILE}${suffix}`).catch(() => {});
      }
      await assert.rejects(openSqliteStoreHere(dir), refused(/is missing/, ...HOW_TO_RECOVER));
    });
  });
});

Deno.test("a store merged elsewhere refuses to open, and a serving one stops reserving", async (t) => {
  await withDir(async (dir) => {
    await withDir(async (target) => {
      const serving = await openSqliteStore(dir);
      const other = await openSqliteStoreHere(target);
      try {
        await serving.create("orders", 1n);
        const served = await serving.reserve("orders", 50n);
        const mover = await openSqliteStoreHere(dir);
        const result = await mover.moveOut("postgres://db/x", (records) => other.merge(records));
        await mover.close();
        assert.deepEqual(result?.created, ["orders"]);
        assert.ok((await other.get("orders"))!.floor > served.last);

        await t.step("the process still serving it refuses to reserve", async () => {
          await assert.rejects(
            serving.reserve("orders", 1n),
            refused(/was merged into PostgreSQL \(postgres:\/\/db\/x\) on .* under the running/),
          );
        });

        await t.step("opening it refuses, saying how to move back", async () => {
          await assert.rejects(
            openSqliteStoreHere(dir),
            refused(/was merged into PostgreSQL/, /sequences export/, /sequences import/),
          );
        });

        await t.step("once the mark is cleared (as import does), it opens", async () => {
          const importer = await openSqliteStoreHere(dir, { acceptMoved: true });
          assert.equal(importer.movedTo()?.to, "postgres://db/x");
          importer.clearMoved();
          await importer.close();
          const reopened = await openSqliteStoreHere(dir);
          assert.equal(reopened.movedTo(), undefined);
          await reopened.close();
        });
      } finally {
        await serving.close();
        await other.close();
      }
    });
  });
});

Deno.test("heartbeats older than a day are purged by the next heartbeat", async () => {
  await withDir(async (dir) => {
    const store = await openSqliteStoreHere(dir);
    try {
      await store.heartbeat("old", 1n);
      await store.heartbeat("recent", 1n);
      const db = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec(
        "UPDATE replicas SET seen = seen - 86400000 - 1000 WHERE replica = 'old'",
      );
      const count = () =>
        Number((db.prepare("SELECT count(*) AS n FROM replicas").get() as { n: number }).n);
      assert.equal(count(), 2);
      await store.heartbeat("recent", 2n);
      assert.equal(count(), 1);
      db.close();
    } finally {
      await store.close();
    }
  });
});
