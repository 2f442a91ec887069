/**
 * End to end on the private PostgreSQL: a role whose password holds `?` and `#` (written as libpq
 * and psql accept them, unencoded) connects, and the service started with that `DATABASE_URL`
 * never prints the password, with it right or wrong.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { DEFAULT_SEQUENCE } from "../../domain/domain.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { runToExit, startService } from "../../launch/service.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";
import { openPostgresStore } from "../postgres_store.ts";
import { coded } from "./store_contract.ts";

const ignore = skipWithoutPostgres(await postgresAvailability(), "PostgreSQL password tests");

/** Percent-encodes only what libpq's URL syntax needs in a user info part: `%`, `@` and `/`. */
function minimalEncode(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("@", "%40").replaceAll("/", "%2F");
}

/** Asserts that `text` shows no part of `password` nor of its written forms. */
function assertHidden(text: string, password: string, marker: string, what: string): void {
  for (const part of [password, minimalEncode(password), encodeURIComponent(password), marker]) {
    assert.ok(
      !text.includes(part),
      `${what} shows the password (${JSON.stringify(part)}):\n${text}`,
    );
  }
}

Deno.test({
  name: "a password with ? and # connects, and the service never prints it, right or wrong",
  ignore,
  fn: async (t) => {
    const pg = await sharedPostgres();
    const marker = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    // As psql takes it in a URL: "?" and "#" as they are; "%", "@" and "/" percent-encoded.
    const password = `pa?ss#${marker}#?:&=+ 'ü€@/%`;
    const wrong = `pa?ss#wrong${marker.slice(8)}#?`;
    const role = `pw_${marker.slice(0, 8)}`;
    await pg.createRole(role, password);
    const database = new URL(await pg.freshDatabase("pw", { owner: role })).pathname.slice(1);
    const urlWith = (secret: string) =>
      `postgres://${role}:${minimalEncode(secret)}@127.0.0.1:${pg.port}/${database}`;
    const url = urlWith(password);
    const wrongUrl = urlWith(wrong);
    const redacted = `postgres://${role}:***@127.0.0.1:${pg.port}/${database}`;
    try {
      await t.step("the store connects as the role and works", async () => {
        const store = await openPostgresStore(url, { poolSize: 2 });
        try {
          assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 5n), { first: 1n, last: 5n });
        } finally {
          await store.close();
        }
        const sql = postgres(pg.urlFor(database), {
          max: 1,
          onnotice: () => {},
          fetch_types: false,
        });
        try {
          const tables = await sql`
            SELECT tableowner FROM pg_tables WHERE tablename = 'sequencer_sequences'`;
          assert.deepEqual(tables.map((r) => r.tableowner), [role]);
        } finally {
          await sql.end({ timeout: 5 });
        }
      });

      await t.step(
        "a wrong password is refused by the server, and the error hides both",
        async () => {
          await assert.rejects(openPostgresStore(wrongUrl, { poolSize: 1 }), (error) => {
            coded("unavailable")(error);
            const message = (error as Error).message;
            assert.match(message, /password authentication failed/);
            assert.ok(message.includes(redacted), message);
            assertHidden(message, password, marker, "the store's error");
            assertHidden(message, wrong, marker.slice(8), "the store's error");
            return true;
          });
        },
      );

      await t.step(
        "the service serves with it and logs no password, stdout or stderr",
        async () => {
          const service = await startService({ DATABASE_URL: url, WORKERS: "1" });
          let stderr = "";
          try {
            const res = await fetch(`${service.api}/v1/sequence`);
            assert.equal(res.status, 200, await res.clone().text());
            assert.match(await res.text(), /"number":\d+/);
          } finally {
            service.kill("SIGTERM");
            const status = await service.status;
            stderr = status.stderr;
            assert.equal(status.code, 0, status.stderr);
          }
          const stdout = service.lines.join("\n");
          assert.ok(stdout.includes(JSON.stringify(redacted)), `no redacted URL in:\n${stdout}`);
          assertHidden(stdout, password, marker, "stdout");
          assertHidden(stderr, password, marker, "stderr");
        },
      );

      await t.step("the service refuses a wrong one and logs no password either", async () => {
        const out = await runToExit({
          DATABASE_URL: wrongUrl,
          API_PORT: "0",
          DEBUG_PORT: "0",
          WORKERS: "1",
        });
        assert.equal(out.code, 1, out.stdout + out.stderr);
        assert.match(out.stdout + out.stderr, /password authentication failed/);
        for (const [text, what] of [[out.stdout, "stdout"], [out.stderr, "stderr"]]) {
          assertHidden(text, wrong, marker.slice(8), what);
          assertHidden(text, password, marker, what);
        }
      });
    } catch (error) {
      const log = await pg.log();
      console.error(`private PostgreSQL log:\n${log.split("\n").slice(-30).join("\n")}`);
      throw error;
    }
  },
});
