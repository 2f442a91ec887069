import assert from "node:assert/strict";
import {
  connectionOptions,
  openPostgresStore,
  POSTGRES_SCHEMA_VERSION,
  PostgresSchemaError,
  type PostgresStore,
} from "../postgres_store.ts";
import { PostgresUrlError, redactUrl } from "../postgres_url.ts";
import {
  type Block,
  DEFAULT_SEQUENCE,
  INT64_MAX,
  raiseBound,
  SequencerError,
  START_MIN,
} from "../../domain/domain.ts";
import {
  type PgInstance,
  postgresAvailability,
  requirePostgres,
  skipWithoutPostgres,
} from "../../launch/postgres.ts";
import type { SharedPostgres } from "../../launch/test_cluster.ts";
import { printLog, withSharedPostgres, withSql } from "./_postgres.ts";
import { eventually } from "../../launch/eventually.ts";
import { coded, fresh, storeContract } from "./store_contract.ts";

/** Whether `error` is an `unavailable` {@link SequencerError}. */
function isUnavailable(error: unknown): boolean {
  return error instanceof SequencerError && error.code === "unavailable";
}

const ignore = skipWithoutPostgres(await postgresAvailability(), "PostgreSQL store tests");

/**
 * Runs `body` against a private PostgreSQL of its own, destroyed afterwards: for tests that stop,
 * freeze, restart or reconfigure the server. Prints the server's log when `body` fails.
 */
async function withOwnPostgres(body: (pg: PgInstance) => Promise<void>): Promise<void> {
  const pg = await requirePostgres();
  try {
    await body(pg);
  } catch (error) {
    await printLog(pg);
    throw error;
  } finally {
    await pg.destroy();
  }
}

/** A fresh, empty database. */
function freshDatabase(pg: PgInstance | SharedPostgres): Promise<string> {
  return "freshDatabase" in pg
    ? pg.freshDatabase("store")
    : pg.createDatabase(`t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`);
}

async function closeAll(stores: PostgresStore[]): Promise<void> {
  await Promise.all(stores.map((store) => store.close()));
}

/** Asserts that `blocks` cover `first..` without overlap or gap; returns the last number. */
function assertContiguous(blocks: Block[], first: bigint): bigint {
  const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let next = first;
  for (const block of sorted) {
    assert.ok(block.first <= block.last, `block ${block.first}..${block.last} is empty`);
    assert.equal(block.first, next, `block ${block.first}..${block.last} should start at ${next}`);
    next = block.last + 1n;
  }
  return next - 1n;
}

/** Asserts that no number lies in two of `blocks`. */
function assertDisjoint(blocks: Block[]): void {
  const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(
      sorted[i].first > sorted[i - 1].last,
      `blocks ${sorted[i - 1].first}..${sorted[i - 1].last} and ` +
        `${sorted[i].first}..${sorted[i].last} overlap`,
    );
  }
}

async function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  const [result] = await Promise.allSettled([promise]);
  return result;
}

/** Retries `reserve` until it succeeds (the pool reconnects on its own) or a generous deadline. */
async function reserveWhenBack(store: PostgresStore, size: bigint): Promise<Block> {
  let block: Block | undefined;
  await eventually("reserve succeeds again", async () => {
    try {
      block = await store.reserve(DEFAULT_SEQUENCE, size);
      return true;
    } catch (error) {
      assert.ok(isUnavailable(error), `unexpected ${error}`);
      return false;
    }
  });
  return block!;
}

Deno.test({
  name: "postgres store meets the store contract",
  ignore,
  fn: async (t) => {
    await withSharedPostgres(async (pg) => {
      await storeContract(
        t,
        async () => openPostgresStore(await freshDatabase(pg), { poolSize: 4 }),
      );
    });
  },
});

Deno.test({
  name: "replicas sharing one PostgreSQL never reserve the same number",
  ignore,
  fn: async (t) => {
    await withSharedPostgres(async (pg) => {
      await t.step(
        "5 replicas starting at once on an empty database all succeed, one schema",
        async () => {
          for (let round = 0; round < 5; round++) {
            const url = await freshDatabase(pg);
            const opened = await Promise.allSettled(
              Array.from({ length: 5 }, () => openPostgresStore(url, { poolSize: 2 })),
            );
            const stores = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
            try {
              for (const o of opened) {
                if (o.status === "rejected") throw o.reason;
              }
              for (const store of stores) {
                assert.deepEqual(await store.list({ limit: 10 }), [fresh(DEFAULT_SEQUENCE, 1n)]);
              }
              const versions = await withSql(
                url,
                (sql) => sql`SELECT version FROM sequencer_schema`,
              );
              assert.deepEqual(
                versions.map((r) => r.version),
                Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
              );
            } finally {
              await closeAll(stores);
            }
          }
        },
      );

      await t.step(
        "4 replicas reserving concurrently get disjoint blocks with no gap",
        async () => {
          const url = await freshDatabase(pg);
          const stores = await Promise.all(
            Array.from({ length: 4 }, () => openPostgresStore(url, { poolSize: 3 })),
          );
          try {
            const all: Block[] = [];
            let total = 0n;
            // Each replica runs 3 workers; each worker reserves 60 blocks of varying size in turn.
            await Promise.all(
              stores.flatMap((store, s) =>
                Array.from({ length: 3 }, async (_, w) => {
                  let previous = 0n;
                  for (let i = 0; i < 60; i++) {
                    const size = BigInt(1 + ((s * 7 + w * 3 + i) % 13));
                    total += size;
                    const block = await store.reserve(DEFAULT_SEQUENCE, size);
                    assert.equal(block.last - block.first + 1n, size);
                    assert.ok(block.first > previous, "blocks of one worker must increase");
                    previous = block.last;
                    all.push(block);
                  }
                })
              ),
            );
            assert.equal(all.length, 4 * 3 * 60);
            assert.equal(assertContiguous(all, 1n), total);
            assert.equal((await stores[0].get(DEFAULT_SEQUENCE))?.upper, total);
          } finally {
            await closeAll(stores);
          }
        },
      );

      await t.step(
        "a sequence created on one replica is usable on all, creates agree",
        async () => {
          const url = await freshDatabase(pg);
          const stores = await Promise.all(
            Array.from({ length: 5 }, () => openPostgresStore(url, { poolSize: 2 })),
          );
          try {
            const results = await Promise.all(
              stores.map((store, i) => store.create("orders", 100n + BigInt(i))),
            );
            assert.equal(results.filter((r) => r.created).length, 1);
            const winner = results.find((r) => r.created)!.record;
            for (const r of results) assert.deepEqual(r.record, winner);
            const blocks = await Promise.all(stores.map((store) => store.reserve("orders", 10n)));
            assert.equal(assertContiguous(blocks, winner.start), winner.start + 49n);
          } finally {
            await closeAll(stores);
          }
        },
      );

      await t.step("a schema newer than this build is refused", async () => {
        const url = await freshDatabase(pg);
        await (await openPostgresStore(url, { poolSize: 1 })).close();
        await withSql(url, (sql) => sql`INSERT INTO sequencer_schema (version) VALUES (99)`);
        await assert.rejects(openPostgresStore(url, { poolSize: 1 }), (error: Error) => {
          assert.ok(error instanceof PostgresSchemaError);
          assert.match(
            error.message,
            new RegExp(
              `version 99 is newer than this build supports \\(${POSTGRES_SCHEMA_VERSION}\\)`,
            ),
          );
          return true;
        });
      });

      await t.step("a foreign table of the same name is refused, not adopted", async () => {
        const url = await freshDatabase(pg);
        await withSql(url, (sql) => sql`CREATE TABLE sequencer_sequences (id integer)`);
        await assert.rejects(openPostgresStore(url, { poolSize: 1 }), PostgresSchemaError);
        const columns = await withSql(
          url,
          (sql) =>
            sql`SELECT column_name FROM information_schema.columns
                WHERE table_name = 'sequencer_sequences'`,
        );
        assert.deepEqual(columns.map((c) => c.column_name), ["id"]);
      });
    });
  },
});

Deno.test({
  name: "postgres store fails fast while PostgreSQL is away and resumes without restart",
  ignore,
  fn: async (t) => {
    await withOwnPostgres(async (pg) => {
      await t.step(
        "stopped: refused at once (not at the deadline); restarted: same store reserves above",
        async () => {
          const url = await freshDatabase(pg);
          // A deadline far beyond the test's patience: a failure that waited for it would say so.
          const store = await openPostgresStore(url, { poolSize: 3, timeoutMs: 600_000 });
          try {
            const before = await store.reserve(DEFAULT_SEQUENCE, 100n);
            await pg.stop();
            for (
              const attempt of [
                store.reserve(DEFAULT_SEQUENCE, 100n),
                store.ping(),
                store.list({ limit: 10 }),
              ]
            ) {
              const result = await settle<unknown>(attempt);
              assert.equal(result.status, "rejected");
              const reason = (result as PromiseRejectedResult).reason;
              assert.ok(isUnavailable(reason), `expected unavailable, got ${reason}`);
              assert.doesNotMatch(reason.message, /did not answer within/);
              assert.match(reason.message, /ECONNREFUSED|connect/i);
            }
            await pg.start();
            const result = await settle(store.reserve(DEFAULT_SEQUENCE, 100n));
            assert.equal(
              result.status,
              "fulfilled",
              `reserve after restart: ${(result as PromiseRejectedResult).reason}`,
            );
            const after = (result as PromiseFulfilledResult<Block>).value;
            assert.ok(after.first > before.last, `${after.first} must be above ${before.last}`);
            await store.ping();
          } finally {
            await store.close();
          }
          await store.close();
          await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 1n), /the store is closed/);
        },
      );

      await t.step(
        "a crash mid-load: every answered block is distinct, then service resumes",
        async () => {
          const url = await freshDatabase(pg);
          const stores = await Promise.all(
            Array.from({ length: 3 }, () => openPostgresStore(url, { poolSize: 3 })),
          );
          try {
            const answered: Block[] = [];
            let refused = 0;
            let stop = false;
            const load = Promise.all(
              stores.flatMap((store) =>
                Array.from({ length: 4 }, async () => {
                  while (!stop) {
                    try {
                      answered.push(await store.reserve(DEFAULT_SEQUENCE, 5n));
                    } catch (error) {
                      assert.ok(isUnavailable(error), `unexpected ${error}`);
                      refused++;
                      // Let the other clients and the pool's reconnection run.
                      await new Promise((resolve) => setTimeout(resolve, 0));
                    }
                  }
                })
              ),
            );
            try {
              await eventually("blocks are reserved before the crash", () => answered.length >= 30);
              await pg.stop("immediate");
              await eventually("requests are refused during the crash", () => refused > 0);
              await pg.start();
              const restarted = answered.length;
              await eventually(
                "blocks are reserved after the restart",
                () => answered.length >= restarted + 30,
              );
            } finally {
              stop = true;
              await load;
            }
            assertDisjoint(answered);
            const top = answered.reduce((max, b) => (b.last > max ? b.last : max), 0n);
            for (const store of stores) {
              const block = await store.reserve(DEFAULT_SEQUENCE, 1n);
              assert.ok(block.first > top, `${block.first} must be above ${top}`);
            }
          } finally {
            await closeAll(stores);
          }
        },
      );

      await t.step(
        "a server that stops answering: fails at the deadline, resumes when it answers",
        async () => {
          const url = await freshDatabase(pg);
          const warnings: string[] = [];
          const logger = { info() {}, error() {}, warn: (msg: string) => void warnings.push(msg) };
          // The default deadline: long enough for a live server on a loaded machine.
          const store = await openPostgresStore(url, { poolSize: 2, timeoutMs: 5_000, logger });
          try {
            const before = await store.reserve(DEFAULT_SEQUENCE, 10n);
            await pg.freeze();
            try {
              const result = await settle(store.reserve(DEFAULT_SEQUENCE, 10n));
              assert.equal(result.status, "rejected");
              const reason = (result as PromiseRejectedResult).reason;
              assert.ok(isUnavailable(reason), `got ${reason}`);
              assert.match(reason.message, /did not answer within 5000 ms/);
              const again = await settle(store.ping());
              assert.equal(again.status, "rejected");
              assert.ok(isUnavailable((again as PromiseRejectedResult).reason));
            } finally {
              await pg.thaw();
            }
            const after = await reserveWhenBack(store, 10n);
            assert.ok(after.first > before.last);
            assert.ok(
              warnings.some((w) => /replacing the connection pool/.test(w)),
              `warnings: ${warnings.join("; ")}`,
            );
          } finally {
            await store.close();
          }
        },
      );
    });
  },
});

Deno.test({
  name: "postgres store keeps every 64-bit number exact",
  ignore,
  fn: async (t) => {
    await withSharedPostgres(async (pg) => {
      const store = await openPostgresStore(await freshDatabase(pg), { poolSize: 2 });
      try {
        await t.step(
          "a sequence at INT64_MAX hands out exactly INT64_MAX, then is exhausted",
          async () => {
            const created = await store.create("last", INT64_MAX);
            assert.deepEqual(created.record, fresh("last", INT64_MAX));
            assert.deepEqual(await store.reserve("last", 1_000n), {
              first: INT64_MAX,
              last: INT64_MAX,
            });
            await assert.rejects(store.reserve("last", 1n), coded("exhausted"));
            assert.equal((await store.get("last"))?.upper, 9223372036854775807n);
          },
        );

        await t.step("numbers above 2^53 are not rounded", async () => {
          await store.create("big", 2n ** 53n + 1n);
          assert.deepEqual(await store.reserve("big", 2n), {
            first: 9007199254740993n,
            last: 9007199254740994n,
          });
        });

        await t.step("the clamp agrees with raiseBound, even for sizes beyond int8", async () => {
          const cases: [bigint, bigint][] = [
            [START_MIN, INT64_MAX],
            [START_MIN, 2n ** 64n],
            [-5n, 2n ** 63n],
            [0n, INT64_MAX],
            [INT64_MAX - 9n, 9n],
            [INT64_MAX - 9n, 10n],
            [INT64_MAX - 9n, 11n],
            [1n, 2n ** 70n],
          ];
          for (const [i, [start, size]] of cases.entries()) {
            const name = `clamp-${i}`;
            await store.create(name, start);
            const upper = raiseBound(start - 1n, size)!;
            assert.deepEqual(await store.reserve(name, size), { first: start, last: upper }, name);
          }
        });

        await t.step(
          "a size below 1 or a start outside int8 is a RangeError naming it",
          async () => {
            await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 0n), /size=0 is invalid/);
            await assert.rejects(store.create("x", INT64_MAX + 1n), /start=9223372036854775808/);
            await assert.rejects(store.create("x", START_MIN - 1n), RangeError);
          },
        );
      } finally {
        await store.close();
      }
    });
  },
});

Deno.test("postgres URLs become driver options the libpq way", async (t) => {
  await t.step("sslmode defaults to prefer and accepts every libpq value", async () => {
    assert.equal((await connectionOptions("postgres://h/db")).ssl, "prefer");
    assert.equal((await connectionOptions("postgres://h/db?sslmode=disable")).ssl, false);
    assert.equal((await connectionOptions("postgresql://h/db?sslmode=allow")).ssl, "prefer");
    assert.equal((await connectionOptions("postgres://h/db?sslmode=require")).ssl, "require");
    assert.equal((await connectionOptions("postgres://h/db?ssl=true")).ssl, "require");
    const full = await connectionOptions("postgres://h/db?sslmode=verify-full");
    assert.equal(typeof full.ssl, "object");
    assert.equal((full.ssl as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
  });

  await t.step("user, password, hosts, ports and database are options of their own", async () => {
    const parsed = await connectionOptions(
      "postgres://u:p%3Fw@h:5433,[::1]/d%2Fb?sslmode=disable&connect_timeout=7&" +
        "application_name=x&keepalives=1&target_session_attrs=read-write",
    );
    assert.equal(parsed.user, "u");
    assert.equal(parsed.password, "p?w");
    assert.deepEqual(parsed.hosts, ["h", "::1"]);
    assert.deepEqual(parsed.ports, [5433, 5432]);
    assert.equal(parsed.path, undefined);
    assert.equal(parsed.database, "d/b");
    assert.equal(parsed.targetSessionAttrs, "read-write");
    assert.deepEqual(parsed.settings, { application_name: "x" });
    assert.equal(parsed.connectTimeout, 7);
    assert.deepEqual(parsed.ignored, ["keepalives"]);
    assert.equal(
      parsed.redacted,
      "postgres://u:***@h:5433,[::1]/d%2Fb?sslmode=disable&connect_timeout=7&" +
        "application_name=x&keepalives=1&target_session_attrs=read-write",
    );
    const defaults = await connectionOptions("postgres:///?target_session_attrs=any");
    assert.deepEqual(
      [defaults.user, defaults.password, defaults.hosts, defaults.database],
      [undefined, undefined, ["localhost"], undefined],
    );
    assert.equal(defaults.targetSessionAttrs, undefined);
  });

  await t.step("a unix socket folder is a socket path, without TLS", async () => {
    const socket = await connectionOptions("postgres:///db?host=/run/postgresql&port=5433");
    assert.deepEqual(socket.hosts, ["/run/postgresql"]);
    assert.equal(socket.path, "/run/postgresql/.s.PGSQL.5433");
    assert.equal(socket.ssl, false, "no TLS on a unix socket");
    await assert.rejects(
      connectionOptions("postgres://a,%2Frun%2Fpostgresql/db"),
      /a unix socket folder cannot be one of several hosts/,
    );
  });

  await t.step("bad values are PostgresUrlErrors naming the parameter and the rule", async () => {
    await assert.rejects(
      connectionOptions("postgres://h/db?sslmode=on"),
      /sslmode="on" is invalid: must be one of/,
    );
    await assert.rejects(
      connectionOptions("postgres://h/db?connect_timeout=0"),
      /connect_timeout="0" is invalid/,
    );
    await assert.rejects(
      connectionOptions("postgres://h/db?sslcert=/c.pem"),
      /sslcert="\/c.pem" is invalid: is not supported/,
    );
    await assert.rejects(
      connectionOptions("postgres://h/db?channel_binding=require"),
      /channel_binding/,
    );
    await assert.rejects(
      connectionOptions("postgres://h/db?sslmode=verify-ca"),
      /needs sslrootcert/,
    );
    await assert.rejects(
      connectionOptions("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem"),
      /sslrootcert="\/nonexistent.pem" is invalid: cannot be read/,
    );
    await assert.rejects(connectionOptions("postgres://h/db?target_session_attrs=x"), /one of any/);
    await assert.rejects(connectionOptions("mysql://u:secret@h/db"), (error: Error) => {
      assert.ok(error instanceof PostgresUrlError);
      assert.match(error.message, /must start with postgres:\/\//);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  await t.step("passwords never reach messages", async () => {
    assert.equal(redactUrl("postgres://me:s3cr%40t@db:5432/x"), "postgres://me:***@db:5432/x");
    assert.equal(redactUrl("postgres://me@db/x"), "postgres://me@db/x");
    await assert.rejects(
      openPostgresStore("postgres://me:hunter2@127.0.0.1:1/x?connect_timeout=1", { poolSize: 1 }),
      (error: Error) => {
        assert.ok(isUnavailable(error), `got ${error}`);
        assert.doesNotMatch(error.message, /hunter2/);
        assert.match(error.message, /me:\*\*\*@127.0.0.1:1/);
        return true;
      },
    );
  });

  await t.step("pool size and deadline are checked", async () => {
    await assert.rejects(
      openPostgresStore("postgres://h/db", { poolSize: 0 }),
      /poolSize=0 is invalid/,
    );
    await assert.rejects(
      openPostgresStore("postgres://h/db", { poolSize: 1, timeoutMs: 5 }),
      /timeoutMs=5 is invalid/,
    );
  });
});

Deno.test({
  name: "postgres store connects over TLS as sslmode asks",
  ignore,
  fn: async (t) => {
    await withOwnPostgres(async (pg) => {
      const url = await freshDatabase(pg);
      const encrypted = (sslmode: string) =>
        withSql(
          url,
          (sql) =>
            sql`SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                WHERE a.application_name = ${`sequencer-${sslmode}`}`,
        );
      const open = async (query: string, sslmode: string) => {
        const store = await openPostgresStore(
          `${url}?${query}&application_name=sequencer-${sslmode}`,
          {
            poolSize: 1,
          },
        );
        try {
          await store.ping();
          return (await encrypted(sslmode)).map((r) => r.ssl);
        } finally {
          await store.close();
        }
      };

      await t.step("without TLS on the server, prefer connects in plain text", async () => {
        assert.deepEqual(await open("sslmode=prefer", "prefer-plain"), [false]);
        await assert.rejects(
          open("sslmode=require&connect_timeout=2", "require-plain"),
          coded("unavailable"),
        );
      });

      const ipCa = await pg.enableTls("IP:127.0.0.1");
      await t.step("require and prefer encrypt; disable does not", async () => {
        assert.deepEqual(await open("sslmode=require", "require"), [true]);
        assert.deepEqual(await open("sslmode=prefer", "prefer"), [true]);
        assert.deepEqual(await open("sslmode=disable", "disable"), [false]);
      });

      await t.step("verify-full accepts a certificate for the URL's IP address", async () => {
        assert.deepEqual(await open(`sslmode=verify-full&sslrootcert=${ipCa}`, "full"), [true]);
        await assert.rejects(
          open("sslmode=verify-full&connect_timeout=2", "full-no-ca"),
          /self-signed|certificate/i,
        );
      });

      const otherCa = await pg.enableTls("DNS:sequencer.test");
      await t.step(
        "verify-full refuses another host's certificate; verify-ca accepts it",
        async () => {
          await assert.rejects(
            open(`sslmode=verify-full&sslrootcert=${otherCa}`, "full-other"),
            (error: Error) => {
              assert.ok(isUnavailable(error), `got ${error}`);
              assert.match(error.message, /127\.0\.0\.1|altnames/);
              return true;
            },
          );
          assert.deepEqual(await open(`sslmode=verify-ca&sslrootcert=${otherCa}`, "ca"), [true]);
          assert.deepEqual(await open(`sslmode=require&sslrootcert=${otherCa}`, "require-ca"), [
            true,
          ]);
          await assert.rejects(
            open(`sslmode=verify-ca&sslrootcert=${ipCa}`, "ca-wrong"),
            coded("unavailable"),
          );
        },
      );
    });
  },
});

Deno.test({
  name: "postgres store connects over a unix socket, and skips a host that refuses",
  ignore,
  fn: async (t) => {
    await withSharedPostgres(async (pg) => {
      const url = await freshDatabase(pg);
      await t.step("a unix socket folder given as ?host= is used", async () => {
        const database = new URL(url).pathname;
        const store = await openPostgresStore(
          `postgres://postgres@${database}?host=${
            encodeURIComponent(pg.socketDir)
          }&port=${pg.port}&application_name=sequencer-socket`,
          { poolSize: 1 },
        );
        try {
          assert.equal((await store.get(DEFAULT_SEQUENCE))?.start, 1n);
          // A connection over a unix socket has no client address.
          const clients = await withSql(
            url,
            (sql) =>
              sql`SELECT client_addr, client_port FROM pg_stat_activity
                  WHERE application_name = 'sequencer-socket'`,
          );
          assert.deepEqual(clients.map((c) => [c.client_addr, c.client_port]), [[null, -1]]);
        } finally {
          await store.close();
        }
      });

      await t.step("several hosts: a host that refuses is skipped for the next", async () => {
        const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const deadPort = (closed.addr as Deno.NetAddr).port;
        closed.close();
        const target = new URL(url);
        const store = await openPostgresStore(
          `postgres://postgres@127.0.0.1:${deadPort},127.0.0.1:${pg.port}${target.pathname}`,
          { poolSize: 1 },
        );
        try {
          assert.equal((await store.get(DEFAULT_SEQUENCE))?.start, 1n);
        } finally {
          await store.close();
        }
      });
    });
  },
});
