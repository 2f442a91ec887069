import assert from "node:assert/strict";
import { DEFAULT_SEQUENCE, INT64_MAX } from "../../domain/domain.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";
import { mergeEmbeddedStore } from "../../store/move_embedded.ts";
import { openPostgresStore } from "../../store/postgres_store.ts";
import { redactUrl } from "../../store/postgres_url.ts";
import { openSqliteStoreHere, SQLITE_FILE } from "../../store/sqlite_store.ts";
import type { Store } from "../../store/store.ts";
import { MARKER_FILE } from "../../store/store_marker.ts";
import { parseExport } from "../export_lines.ts";
import { RESET_CONFIRMATION } from "../cli.ts";
import { runFails, runOk } from "./run_cli.ts";

const ignorePg = skipWithoutPostgres(await postgresAvailability(), "sequences CLI on PostgreSQL");

async function withDirs(count: number, body: (...dirs: string[]) => Promise<void>) {
  const dirs = await Promise.all(
    Array.from({ length: count }, () => Deno.makeTempDir({ prefix: "sequencer-cli-" })),
  );
  try {
    await body(...dirs);
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
}

async function using<S extends Store, T>(store: Promise<S>, body: (s: S) => Promise<T>) {
  const opened = await store;
  try {
    return await body(opened);
  } finally {
    await opened.close();
  }
}

/** Fills a store: some used sequences, a raised floor, a retired one; returns each upper. */
async function fill(store: Store): Promise<Map<string, bigint>> {
  await store.reserve(DEFAULT_SEQUENCE, 250n);
  await store.create("orders", 1000n);
  await store.reserve("orders", 77n);
  await store.create("invoices", -50n);
  await store.raiseFloor("invoices", 400n);
  await store.create("old", 1n);
  await store.reserve("old", 5n);
  await store.retire("old");
  await store.create("unused", 7n);
  const uppers = new Map<string, bigint>();
  for (const record of await store.list({ limit: 100 })) uppers.set(record.name, record.upper);
  return uppers;
}

/** Asserts that `store` hands out nothing at or below `uppers` and keeps retired ones retired. */
async function assertAbove(store: Store, uppers: Map<string, bigint>): Promise<void> {
  for (const [name, upper] of uppers) {
    const record = (await store.get(name))!;
    assert.ok(record !== undefined, `${name} is missing`);
    if (record.retired) {
      await assert.rejects(store.reserve(name, 1n), /retired/);
      continue;
    }
    const block = await store.reserve(name, 3n);
    assert.ok(block.first > upper, `${name}: ${block.first} is not above ${upper}`);
  }
}

Deno.test("export and import move every sequence between two DATA_DIRs without a repeat", async (t) => {
  await withDirs(2, async (from, to) => {
    const uppers = await using(openSqliteStoreHere(from), fill);
    const file = `${from}/export.jsonl`;

    await t.step("export writes one JSON line per sequence, to a file or stdout", async () => {
      const said = await runOk(["export", file, "--data-dir", from]);
      assert.match(said, new RegExp(`^exported 5 sequences from .* to ${file}\\n$`));
      const text = await Deno.readTextFile(file);
      assert.equal(await runOk(["export"], { DATA_DIR: from }), text);
      const records = parseExport(text, file);
      assert.deepEqual(records.map((r) => r.name), [
        DEFAULT_SEQUENCE,
        "invoices",
        "old",
        "orders",
        "unused",
      ]);
      assert.deepEqual(JSON.parse(text.split("\n")[1]), {
        name: "invoices",
        start: "-50",
        committed: "399",
        floor: "400",
        retired: false,
      });
    });

    await t.step("import into an empty DATA_DIR creates them, above every number", async () => {
      const said = await runOk(["import", file, `--data-dir=${to}`]);
      assert.match(said, /^imported 5 sequences into the embedded store in DATA_DIR=".*"\n/);
      assert.match(said, /\ncreated 4: invoices, old, orders, unused\n/);
      assert.match(said, /\nraised 1: default\n/);
      assert.match(said, /\nretired 0\n/);
      await using(openSqliteStoreHere(to), (store) => assertAbove(store, uppers));
    });

    await t.step("importing again changes nothing (stdin too)", async () => {
      const said = await runOk(
        ["import", "-", "--data-dir", to],
        {},
        await Deno.readTextFile(file),
      );
      assert.match(said, /\ncreated 0\nraised 0\nretired 0\n$/);
    });
  });
});

Deno.test("floor raises one floor, says when it changes nothing, and refuses bad input", async () => {
  await withDirs(1, async (dir) => {
    await using(openSqliteStoreHere(dir), async (store) => {
      await store.reserve(DEFAULT_SEQUENCE, 100n);
    });
    assert.equal(
      await runOk(["floor", DEFAULT_SEQUENCE, "5000", "--data-dir", dir]),
      "floor of default raised to 5000; its next block starts at 5000\n",
    );
    assert.equal(
      await runOk(["floor", DEFAULT_SEQUENCE, "50"], { DATA_DIR: dir }),
      "floor of default unchanged: it is 5000 already; its next block starts at 5000\n",
    );
    await using(openSqliteStoreHere(dir), async (store) => {
      assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 1n), { first: 5000n, last: 5000n });
    });
    assert.match(
      await runFails(["floor", "missing", "5", "--data-dir", dir]),
      /^sequences: sequence "missing" does not exist$/,
    );
    assert.match(
      await runFails(["floor", DEFAULT_SEQUENCE, `${INT64_MAX + 1n}`, "--data-dir", dir]),
      /N=9223372036854775808 is invalid/,
    );
    assert.match(
      await runFails(["floor", DEFAULT_SEQUENCE, "01", "--data-dir", dir]),
      /N="01" is invalid: must be an integer in decimal digits/,
    );
    assert.match(await runFails(["floor", "bad name", "1", "--data-dir", dir]), /name "bad name"/);
    assert.match(await runFails(["floor", "x", "--data-dir", dir]), /floor takes NAME N, got "x"/);
  });
});

Deno.test("floor of a period (inv@2026): created at its sequence's start if missing, then raised", async () => {
  await withDirs(1, async (dir) => {
    await using(openSqliteStoreHere(dir), async (store) => {
      await store.create("inv", 10n, { reset: "yearly", timezone: "UTC" });
      await store.create("plain", 1n);
    });
    assert.equal(
      await runOk(["floor", "inv@2026", "700", "--data-dir", dir]),
      "floor of inv@2026 raised to 700; its next block starts at 700\n",
    );
    await using(openSqliteStoreHere(dir), async (store) => {
      const period = await store.get("inv@2026");
      assert.deepEqual([period?.start, period?.floor, period?.upper], [10n, 700n, 699n]);
    });
    assert.match(
      await runFails(["floor", "nope@2026", "5", "--data-dir", dir]),
      /sequence "nope" does not exist/,
    );
    assert.match(
      await runFails(["floor", "plain@2026", "5", "--data-dir", dir]),
      /sequence "plain" has no periods/,
    );
    assert.match(await runFails(["floor", "inv@26", "5", "--data-dir", dir]), /name "inv@26"/);
  });
});

Deno.test("retire retires a name for good; it stays exported as retired", async () => {
  await withDirs(1, async (dir) => {
    await using(openSqliteStoreHere(dir), (store) => store.reserve(DEFAULT_SEQUENCE, 10n));
    assert.equal(
      await runOk(["retire", DEFAULT_SEQUENCE, "--data-dir", dir]),
      "default retired; its last committed bound is 10\n",
    );
    assert.equal(
      await runOk(["retire", DEFAULT_SEQUENCE, "--data-dir", dir]),
      "default was retired already; its last committed bound is 10\n",
    );
    const exported = parseExport(await runOk(["export", "--data-dir", dir]), "stdout");
    assert.deepEqual(exported, [
      { name: DEFAULT_SEQUENCE, start: 1n, committed: 10n, floor: 1n, retired: true },
    ]);
  });
});

Deno.test("backup, restore and floors: a restored store starts above every number", async (t) => {
  await withDirs(2, async (dir, elsewhere) => {
    const backup = `${elsewhere}/backup.db`;
    const lastExport = `${elsewhere}/last.jsonl`;
    let handedOut = 0n;

    await t.step("backup copies the store while it is open; refuses an existing file", async () => {
      await using(openSqliteStoreHere(dir), async (store) => {
        await store.reserve(DEFAULT_SEQUENCE, 100n);
        assert.match(
          await runOk(["backup", backup, "--data-dir", dir]),
          new RegExp(`^backup of .*${SQLITE_FILE} written to ${backup}\\n$`),
        );
        assert.match(
          await runFails(["backup", backup, "--data-dir", dir]),
          /backup file ".*backup\.db" exists already/,
        );
        // Numbers handed out after the backup; the last export sees them.
        handedOut = (await store.reserve(DEFAULT_SEQUENCE, 500n)).last;
        await runOk(["export", lastExport, "--data-dir", dir]);
      });
    });

    await t.step("restore puts it in place, the old files aside; the start refuses", async () => {
      const said = await runOk(["restore", backup, "--data-dir", dir]);
      assert.match(
        said,
        /^restored .* as the store of DATA_DIR=".*"; the files it replaced are in .*replaced-/,
      );
      assert.match(said, /raise the floors .*sequences import LAST_EXPORT/);
      const aside = [...Deno.readDirSync(dir)].find((e) => e.name.startsWith("replaced-"))!;
      assert.ok(
        [...Deno.readDirSync(`${dir}/${aside.name}`)].some((e) => e.name === SQLITE_FILE),
        "the replaced database is kept",
      );
      await assert.rejects(openSqliteStoreHere(dir), /is an older copy of this store/);
    });

    await t.step("after importing the last export it starts, above every number", async () => {
      assert.match(await runOk(["import", lastExport, "--data-dir", dir]), /\nraised 1: default\n/);
      await using(openSqliteStoreHere(dir), async (store) => {
        const block = await store.reserve(DEFAULT_SEQUENCE, 1n);
        assert.ok(block.first > handedOut, `${block.first} repeats a number`);
      });
    });

    await t.step("restore refuses what is no backup, and another store's backup", async () => {
      await Deno.writeTextFile(`${elsewhere}/junk.db`, "junk ".repeat(1000));
      assert.match(
        await runFails(["restore", `${elsewhere}/junk.db`, "--data-dir", dir]),
        /is not a whole sequencer store backup/,
      );
      assert.match(
        await runFails(["restore", `${elsewhere}/none.db`, "--data-dir", dir]),
        /backup file ".*none\.db" does not exist/,
      );
      await withDirs(1, async (other) => {
        await using(openSqliteStoreHere(other), (store) => store.ping());
        await runOk(["backup", `${other}/other.db`, "--data-dir", other]);
        assert.match(
          await runFails(["restore", `${other}/other.db`, "--data-dir", dir]),
          /is of another store .* run "reset --i-understand-numbers-restart" first/,
        );
      });
    });
  });
});

Deno.test("reset needs its confirmation, and moves the store aside without deleting it", async () => {
  await withDirs(1, async (dir) => {
    await using(openSqliteStoreHere(dir), async () => {
      assert.match(
        await runFails(["reset", RESET_CONFIRMATION, "--data-dir", dir]),
        /sequencer\.db is open in another process: stop every service using DATA_DIR=.* before resetting it/,
      );
      assert.match(
        await runFails(["restore", `${dir}/${SQLITE_FILE}`, "--data-dir", dir]),
        /is open in another process: .* before restoring/,
      );
    });
    await using(openSqliteStoreHere(dir), (store) => store.reserve(DEFAULT_SEQUENCE, 10n));
    await Deno.remove(`${dir}/${SQLITE_FILE}`);
    await assert.rejects(openSqliteStoreHere(dir), /is missing.*deno task sequences reset/);
    assert.match(
      await runFails(["reset", "--data-dir", dir]),
      new RegExp(`every sequence starts again at its start.*add ${RESET_CONFIRMATION}`),
    );
    assert.ok([...Deno.readDirSync(dir)].some((e) => e.name === MARKER_FILE), "nothing moved");
    const said = await runOk(["reset", RESET_CONFIRMATION, "--data-dir", dir]);
    assert.match(said, new RegExp(`^moved ${MARKER_FILE} to .*/reset-.*; the next start creates`));
    const aside = [...Deno.readDirSync(dir)].find((e) => e.name.startsWith("reset-"))!;
    assert.deepEqual([...Deno.readDirSync(`${dir}/${aside.name}`)].map((e) => e.name), [
      MARKER_FILE,
    ]);
    await using(openSqliteStoreHere(dir), async (store) => {
      assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 1n), { first: 1n, last: 1n });
    });
    assert.match(
      await runOk(["reset", RESET_CONFIRMATION, "--data-dir", `${dir}/empty`]),
      /holds no store: nothing to reset/,
    );
  });
});

Deno.test("every failure is exit 1 with one line on stderr naming the problem", async (t) => {
  await withDirs(1, async (dir) => {
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      ["no command", [], {}, /^sequences: no command given: one of help, export, import/],
      ["unknown command", ["frobnicate"], {}, /unknown command "frobnicate"/],
      ["unknown flag", ["export", "--force"], {}, /unknown flag --force/],
      [
        "both stores",
        ["export", "--data-dir", dir, "--database-url", "postgres://h/d"],
        {},
        /not both/,
      ],
      ["a flag without value", ["export", "--data-dir"], {}, /--data-dir needs a value/],
      ["no store to export", ["export", "--data-dir", `${dir}/none`], {}, /holds no store/],
      ["import without file", ["import", "--data-dir", dir], {}, /import takes FILE, got none/],
      ["import of a missing file", ["import", `${dir}/no.jsonl`], { DATA_DIR: dir }, /cannot read/],
      [
        "the confirmation elsewhere",
        ["export", RESET_CONFIRMATION],
        { DATA_DIR: dir },
        /belongs to reset only/,
      ],
      [
        "backup of PostgreSQL",
        ["backup", `${dir}/b.db`],
        { DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/db" },
        /backup is for the embedded store, not PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/db: back PostgreSQL up with pg_dump/,
      ],
      [
        "reset of PostgreSQL",
        ["reset", RESET_CONFIRMATION, "--database-url", "postgres://h/d"],
        {},
        /reset is for the embedded store/,
      ],
      [
        "an unreachable PostgreSQL, without its password",
        ["export", "--database-url", "postgres://app:hunter2@127.0.0.1:1/db?connect_timeout=2"],
        {},
        /postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/db/,
      ],
    ];
    for (const [what, args, env, expected] of cases) {
      await t.step(what, async () => {
        const line = await runFails(args, env);
        assert.match(line, expected);
        assert.ok(!line.includes("hunter2"), line);
      });
    }

    await t.step("a bad import line is named, and nothing is merged", async () => {
      const file = `${dir}/bad.jsonl`;
      await Deno.writeTextFile(
        file,
        `{"name":"a","start":"1","committed":"0","floor":"1","retired":false}\n\n` +
          `{"name":"b","start":"1","committed":"-5","floor":"1","retired":false}\n`,
      );
      assert.match(
        await runFails(["import", file, "--data-dir", dir]),
        new RegExp(`${file}:3: sequence "b": committed=-5 must be from start - 1 \\(0\\)`),
      );
      await using(openSqliteStoreHere(dir), async (store) => {
        assert.equal(await store.get("a"), undefined);
      });
    });

    await t.step("help prints the usage", async () => {
      assert.match(await runOk(["help"]), /^Usage: deno task sequences <command>/);
    });
  });
});

Deno.test({
  name: "export and import move every sequence between PostgreSQL and DATA_DIRs, both ways",
  ignore: ignorePg,
  fn: async (t) => {
    const pg = await sharedPostgres();
    await withDirs(2, async (dir, work) => {
      const url = await pg.freshDatabase("cli");
      const file = `${work}/from-pg.jsonl`;

      await t.step("embedded → PostgreSQL with import --database-url", async () => {
        const uppers = await using(openSqliteStoreHere(dir), fill);
        await runOk(["export", `${work}/embedded.jsonl`, "--data-dir", dir]);
        const said = await runOk(["import", `${work}/embedded.jsonl`], { DATABASE_URL: url });
        assert.match(
          said,
          new RegExp(`^imported 5 sequences into PostgreSQL at ${redactUrl(url)}`),
        );
        await using(openPostgresStore(url, { poolSize: 1 }), (store) => assertAbove(store, uppers));
      });

      await t.step(
        "PostgreSQL → a DATA_DIR that was moved into it: import clears the mark",
        async () => {
          await using(openPostgresStore(url, { poolSize: 1 }), async (store) => {
            await mergeEmbeddedStore(store, dir, { where: redactUrl(url) });
            await store.reserve(DEFAULT_SEQUENCE, 10_000n);
          });
          await assert.rejects(openSqliteStoreHere(dir), /was merged into PostgreSQL/);
          const uppers = await using(openPostgresStore(url, { poolSize: 1 }), async (store) => {
            const map = new Map<string, bigint>();
            for (const r of await store.list({ limit: 100 })) map.set(r.name, r.upper);
            return map;
          });
          // The DATA_DIR flag wins over DATABASE_URL in the environment.
          await runOk(["export", file], { DATABASE_URL: url });
          const said = await runOk(["import", file, "--data-dir", dir], { DATABASE_URL: url });
          assert.match(said, /^imported \d+ sequences into the embedded store/);
          await using(openSqliteStoreHere(dir), (store) => assertAbove(store, uppers));
        },
      );
    });
  },
});
