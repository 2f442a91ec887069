/**
 * PostgreSQL URLs read as libpq reads them, and passwords that never reach a message.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError, describeConfig, loadConfig } from "../../config/config.ts";
import {
  hideSecret,
  parsePostgresUrl,
  type PostgresUrl,
  PostgresUrlError,
  redactUrl,
} from "../postgres_url.ts";
import { connectionOptions, openPostgresStore } from "../postgres_store.ts";

/** Percent-encodes only what libpq's URL syntax needs in a user info part: `%`, `@` and `/`. */
function minimalEncode(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("@", "%40").replaceAll("/", "%2F");
}

/** Passwords of any characters but NUL (which libpq refuses), often with URL delimiters. */
const passwords = fc.string({
  unit: fc.oneof(
    fc.constantFrom("?", "#", "@", ":", "/", "%", "&", "=", "[", "]", ",", "'", '"', " ", "+"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  ),
  minLength: 1,
  maxLength: 24,
}).filter((password) => !password.includes("\0"));

/** The URL a password is written into, two ways: fully and minimally encoded. */
const written = fc.tuple(passwords, fc.boolean()).map(([password, full]) => ({
  password,
  encoded: full ? encodeURIComponent(password) : minimalEncode(password),
}));

/**
 * Passwords that begin and end with a marker no message holds by chance, so that a message
 * showing the password, or its beginning or end, is caught whatever characters lie between.
 */
const marked = written.map(({ password, encoded }) => ({
  password: `Pw1${password}Pw2`,
  encoded: `Pw1${encoded}Pw2`,
}));

/** Asserts that `text` shows no part of a {@link marked} password. */
function assertHidden(text: string, secret: { password: string; encoded: string }): void {
  for (const part of [secret.password, secret.encoded, "Pw1", "Pw2"]) {
    assert.ok(!text.includes(part), `${JSON.stringify(text)} shows the password`);
  }
}

Deno.test("postgres URLs are read the libpq way", async (t) => {
  const cases: [string, Partial<PostgresUrl>][] = [
    ["postgresql://", { hosts: [""], ports: [undefined] }],
    ["postgresql://localhost", { hosts: ["localhost"] }],
    ["postgresql://localhost:5433", { hosts: ["localhost"], ports: [5433] }],
    ["postgresql://localhost/mydb", { hosts: ["localhost"], database: "mydb" }],
    ["postgresql://user@localhost", { user: "user", hosts: ["localhost"] }],
    ["postgresql://user:secret@localhost", { user: "user", password: "secret" }],
    [
      "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
      {
        user: "other",
        database: "otherdb",
        params: [["connect_timeout", "10"], ["application_name", "myapp"]],
      },
    ],
    [
      "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
      { hosts: ["host1", "host2"], ports: [123, 456], database: "somedb" },
    ],
    [
      "postgresql:///mydb?host=localhost&port=5433",
      { hosts: ["localhost"], ports: [5433], database: "mydb", params: [] },
    ],
    ["postgresql://[2001:db8::1234]/database", { hosts: ["2001:db8::1234"], database: "database" }],
    ["postgres://[::1]:5432,db:6/x", { hosts: ["::1", "db"], ports: [5432, 6] }],
    ["postgresql:///dbname?host=/var/lib/postgresql", { hosts: ["/var/lib/postgresql"] }],
    ["postgresql://%2Fvar%2Flib%2Fpostgresql/dbname", { hosts: ["/var/lib/postgresql"] }],
    ["postgres://a:1,b/db", { hosts: ["a", "b"], ports: [1, undefined] }],
    ["postgres://a,b:2/db", { hosts: ["a", "b"], ports: [undefined, 2] }],
    ["postgres://a,b/db?port=7", { hosts: ["a", "b"], ports: [7, 7] }],
    ["postgres://app:pa?ss#word@127.0.0.1:5432/db", { user: "app", password: "pa?ss#word" }],
    ["postgres://app:a:b&c=d@h/db", { password: "a:b&c=d", hosts: ["h"], database: "db" }],
    ["postgres://app:p%40ss%2Fw%25@h/db", { password: "p@ss/w%" }],
    ["postgres://%C3%BCser:%E2%82%AC@h/d%C3%B6", { user: "üser", password: "€", database: "dö" }],
    ["postgres://app:@h/db", { user: "app", password: undefined }],
    ["postgres://h/db?application_name=a+b%20c", { params: [["application_name", "a+b c"]] }],
    ["postgres://h/db?application_name=x#y", { params: [["application_name", "x#y"]] }],
    ["postgres://h/db?ssl=true", { params: [["sslmode", "require"]] }],
    ["postgres://h/db?requiressl=1", { params: [["sslmode", "require"]] }],
    ["postgres://h/db?requiressl=0", { params: [["sslmode", "prefer"]] }],
    ["postgres://h/db?sslmode=disable&", { params: [["sslmode", "disable"]] }],
    [
      "postgres://u:p@h/db?user=v&password=q%26&dbname=e&host=k&port=9",
      { user: "v", password: "q&", database: "e", hosts: ["k"], ports: [9] },
    ],
    ["POSTGRES://app@db/seq", { user: "app", hosts: ["db"], database: "seq" }],
  ];
  for (const [url, expected] of cases) {
    await t.step(url, () => {
      const parsed = parsePostgresUrl(url);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(parsed[key as keyof PostgresUrl], value, `${key} of ${url}`);
      }
    });
  }
});

Deno.test("postgres URLs libpq refuses are refused, naming the rule, never the password", async (t) => {
  const cases: [string, RegExp][] = [
    ["mysql://u:hunter2@h/db", /must start with postgres:\/\/ or postgresql:\/\//],
    ["postgres://u:hunter2@h/db?sslmode", /query parameter "sslmode" has no "="/],
    ["postgres://u:hunter2@h/db?a=b=c", /query parameter "a" has more than one "="/],
    ["postgres://u:hunter2@h/db?&a=b", /query parameter "" has no "="/],
    ["postgres://u:hunter2@h/db?=b", /a query parameter has an empty name/],
    ["postgres://u:hunter2@h/d%zz", /the database name "d%zz" has a malformed percent-encoding/],
    ["postgres://u:hunter2@h/d%00", /malformed percent-encoding/],
    ["postgres://u:hunter2@h/d%ff", /malformed percent-encoding: .*encode UTF-8/],
    ["postgres://u:hunter2@h:0/db", /port "0" is invalid: must be a number from 1 to 65535/],
    ["postgres://u:hunter2@h:x/db", /port "x" is invalid/],
    ["postgres://u:hunter2@a,b,c/db?port=1,2", /2 ports for 3 hosts/],
    ["postgres://u:hunter2@[::1/db", /has no matching "]"/],
    ["postgres://u:hunter2@[::1]x/db", /must be followed by/],
    ["postgres://u:hunter2@[]/db", /must not be empty/],
    ["postgres://u:hunter2@h/db?ssl=1", /ssl="1" is invalid: only ssl=true/],
    ["postgres://u:hunter2@h/db?application_name=me@there", /an "@" after its user info/],
    ["postgres://u:hunter2@x@h/db", /an "@" after its user info/],
    ["postgres://u:hun/ter2@h/db", /an "@" after its user info/],
  ];
  for (const [url, rule] of cases) {
    await t.step(url, () => {
      assert.throws(() => parsePostgresUrl(url), (error) => {
        assert.ok(error instanceof PostgresUrlError, `got ${error}`);
        assert.match(error.message, rule);
        for (const text of [error.message, error.rule, error.redacted]) {
          assert.doesNotMatch(text, /hunter2|hun\/ter2|ter2/);
        }
        return true;
      });
    });
  }

  await t.step("a bad password encoding is named without the password", () => {
    assert.throws(() => parsePostgresUrl("postgres://u:hunter2%zz@h/db"), (error: Error) => {
      assert.match(error.message, /the password has a malformed percent-encoding/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
    assert.throws(() => parsePostgresUrl("postgres://h/db?password=hunter2%zz"), (error: Error) => {
      assert.match(error.message, /the value of password has a malformed/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });
});

Deno.test("redactUrl hides passwords wherever libpq would find them", async (t) => {
  const cases: [string, string][] = [
    ["postgres://me:s3cr%40t@db:5432/x", "postgres://me:***@db:5432/x"],
    ["postgres://me@db/x", "postgres://me@db/x"],
    ["postgres://app:pa?ss#word@127.0.0.1:5432/db", "postgres://app:***@127.0.0.1:5432/db"],
    ["postgres://app:hunter2@db1:5432,db2/seq", "postgres://app:***@db1:5432,db2/seq"],
    [
      "postgres:///seq?host=/sock&password=hunter2&sslmode=disable",
      "postgres:///seq?host=/sock&password=***&sslmode=disable",
    ],
    ["postgres://h/x?pass%77ord=hunter2", "postgres://h/x?pass%77ord=***"],
    ["postgres://h/x?sslpassword=hunter2", "postgres://h/x?sslpassword=***"],
    ["postgres://app:hun/ter2@db/x", "postgres://***"],
    ["postgres://app:hunter2@db/x?application_name=a@b", "postgres://***"],
    ["mysql://u:hunter2@h/db", "mysql://u:***@h/db"],
    ["host=db user=app password=hunter2 dbname=x", "host=db user=app password=*** dbname=x"],
    ["host=db password='hun ter2' dbname=x", "host=db password=*** dbname=x"],
    ["app:hunter2@db/x", "***@db/x"],
  ];
  for (const [url, shown] of cases) {
    await t.step(url, () => assert.equal(redactUrl(url), shown));
  }
});

Deno.test("any password round-trips and never shows", async (t) => {
  await t.step("any password, fully or minimally encoded, is read back exactly", () => {
    fc.assert(
      fc.property(written, fc.boolean(), ({ password, encoded }, asParameter) => {
        const url = asParameter
          ? `postgres://app@db.internal:5432/seq?password=${encodeURIComponent(password)}`
          : `postgres://app:${encoded}@db.internal:5432/seq?sslmode=disable`;
        const parsed = parsePostgresUrl(url);
        assert.equal(parsed.password, password);
        assert.equal(parsed.user, "app");
        assert.deepEqual(parsed.hosts, ["db.internal"]);
        assert.deepEqual(parsed.ports, [5432]);
        assert.equal(parsed.database, "seq");
      }),
      { numRuns: 500 },
    );
  });

  await t.step("redactUrl shows exactly the URL with *** for any password", () => {
    fc.assert(
      fc.property(marked, ({ password, encoded }) => {
        const shown = "postgres://app:***@db.internal:5432/seq?sslmode=disable&password=***";
        const url = `postgres://app:${encoded}@db.internal:5432/seq?sslmode=disable&password=${
          encodeURIComponent(password)
        }`;
        assert.equal(redactUrl(url), shown);
      }),
      { numRuns: 500 },
    );
  });

  await t.step("no error about a URL with any password shows it", async () => {
    const faults = [
      "db:99999/seq",
      "db/seq?sslmode=maybe",
      "db/seq?connect_timeout=0",
      "db/seq?sslcert=/c.pem",
      "db/s%zz",
      "db/seq?a",
      "db/seq?sslmode=verify-ca",
    ];
    await fc.assert(
      fc.asyncProperty(marked, fc.constantFrom(...faults), async (secret, fault) => {
        const url = `postgres://app:${secret.encoded}@${fault}`;
        const error = await connectionOptions(url).then(() => undefined, (e) => e);
        assert.ok(error instanceof PostgresUrlError, `${fault}: got ${error}`);
        for (const text of [error.message, error.rule, error.redacted, String(error)]) {
          assertHidden(text, secret);
        }
        // The configuration refuses what is wrong in the URL's syntax and logs the rest hidden.
        let shown: string;
        try {
          shown = JSON.stringify(
            describeConfig(loadConfig((name) => name === "DATABASE_URL" ? url : undefined)),
          );
        } catch (caught) {
          assert.ok(caught instanceof ConfigError, `got ${caught}`);
          shown = caught.message;
        }
        assertHidden(shown, secret);
      }),
      { numRuns: 300 },
    );
  });

  await t.step("the store's connection errors never show any password", async () => {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    await fc.assert(
      fc.asyncProperty(marked, async (secret) => {
        const url = `postgres://app:${secret.encoded}@127.0.0.1:${port}/seq?connect_timeout=1`;
        const error = await openPostgresStore(url, { poolSize: 1 }).then(
          async (store) => {
            await store.close();
            return undefined;
          },
          (e) => e,
        );
        assert.ok(error instanceof Error, `opened a store on a closed port: ${error}`);
        assertHidden(error.message, secret);
        assert.match(error.message, /ECONNREFUSED|connect/);
      }),
      { numRuns: 25 },
    );
  });

  await t.step("hideSecret removes a password a driver message might repeat", () => {
    fc.assert(
      fc.property(passwords, fc.string(), (password, around) => {
        const text = hideSecret(
          `${around}${password}${around}${encodeURIComponent(password)}`,
          password,
        );
        fc.pre(!`${around}***${around}***`.includes(password));
        assert.ok(!text.includes(password));
      }),
    );
  });
});
