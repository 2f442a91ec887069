import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError, describeConfig, loadConfig } from "../config.ts";

function env(vars: Record<string, string>) {
  return (name: string) => vars[name];
}

Deno.test("config reads every variable and falls back to the defaults", async (t) => {
  await t.step("all variables set are all used", () => {
    const config = loadConfig(
      env({
        API_PORT: "4000",
        DEBUG_PORT: "4001",
        DEBUG_HOST: "0.0.0.0",
        SHUTDOWN_TIMEOUT_SEC: "5",
        ENVIRONMENT: "production",
        DATA_DIR: "/var/lib/sequencer",
        DATABASE_URL: "postgres://app:secret@db:5432/seq?sslmode=require",
        DATABASE_POOL_SIZE: "8",
        BATCH_MAX: "500",
        WORKERS: "3",
        BLOCK_SIZE_MIN: "10",
        BLOCK_SIZE_MAX: "1000",
        API_HOST: "127.0.0.2",
        LOCK_DIR: "/run/sequencer",
        HTTP_MAX_CONNECTIONS: "100",
        HTTP_HEADER_TIMEOUT_SEC: "2",
        HTTP_IDLE_TIMEOUT_SEC: "3",
        HTTP_BODY_TIMEOUT_SEC: "4",
        SEQUENCES_MAX: "16",
        LOG_REQUESTS: "true",
        AUTH_TOKENS_FILE: "/etc/sequencer/tokens",
        TLS_CERT_FILE: "/etc/sequencer/cert.pem",
        TLS_KEY_FILE: "/etc/sequencer/key.pem",
        IDEMPOTENCY_TTL_SEC: "600",
        CREATE_RATE_PER_SEC: "3",
        CREATE_BURST: "30",
        BATCH_NUMBERS_PER_SEC: "5000",
      }),
      2,
    );
    assert.deepEqual(config, {
      apiPort: 4000,
      debugPort: 4001,
      debugHost: "0.0.0.0",
      shutdownTimeoutSec: 5,
      environment: "production",
      dataDir: "/var/lib/sequencer",
      store: {
        kind: "postgres",
        url: "postgres://app:secret@db:5432/seq?sslmode=require",
        poolSize: 8,
        dataDir: "/var/lib/sequencer",
      },
      idempotencyTtlSec: 600,
      rates: { createPerSec: 3, createBurst: 30, batchNumbersPerSec: 5000 },
      batchMax: 500,
      workers: 3,
      blockSizeMin: 10,
      blockSizeMax: 1000,
      apiHost: "127.0.0.2",
      lockDir: "/run/sequencer",
      http: {
        maxConnections: 100,
        headerTimeoutMs: 2000,
        idleTimeoutMs: 3000,
        bodyTimeoutMs: 4000,
      },
      sequencesMax: 16,
      logRequests: true,
      authTokensFile: "/etc/sequencer/tokens",
      tls: { certFile: "/etc/sequencer/cert.pem", keyFile: "/etc/sequencer/key.pem" },
    });
  });

  await t.step("nothing set gives the seed's defaults and one worker per CPU", () => {
    assert.deepEqual(loadConfig(env({}), 2), {
      apiPort: 3000,
      debugPort: 3001,
      debugHost: "127.0.0.1",
      shutdownTimeoutSec: 20,
      environment: "development",
      dataDir: "./data",
      store: { kind: "sqlite", dataDir: "./data" },
      idempotencyTtlSec: 86400,
      rates: { createPerSec: 10, createBurst: 100, batchNumbersPerSec: 100000000 },
      batchMax: 100000,
      workers: 2,
      blockSizeMin: 100,
      blockSizeMax: 10000000,
      apiHost: "0.0.0.0",
      lockDir: "/tmp",
      http: {
        maxConnections: 4096,
        headerTimeoutMs: 10000,
        idleTimeoutMs: 60000,
        bodyTimeoutMs: 30000,
      },
      sequencesMax: 4096,
      logRequests: false,
      authTokensFile: undefined,
      tls: undefined,
    });
  });

  const defaults = loadConfig(env({}), 2) as unknown as Record<string, unknown>;
  for (
    const [name, key] of [
      ["API_PORT", "apiPort"],
      ["DEBUG_PORT", "debugPort"],
      ["SHUTDOWN_TIMEOUT_SEC", "shutdownTimeoutSec"],
      ["ENVIRONMENT", "environment"],
      ["DATA_DIR", "dataDir"],
    ] as const
  ) {
    await t.step(`${name} missing falls back to its default`, () => {
      const vars: Record<string, string> = {
        API_PORT: "5000",
        DEBUG_PORT: "5001",
        SHUTDOWN_TIMEOUT_SEC: "7",
        ENVIRONMENT: "staging",
        DATA_DIR: "/tmp/x",
      };
      delete vars[name];
      const config = loadConfig(env(vars), 2) as unknown as Record<string, unknown>;
      assert.equal(config[key], defaults[key]);
    });
  }

  await t.step("port 0 is allowed for both ports (a free port is picked)", () => {
    const config = loadConfig(env({ API_PORT: "0", DEBUG_PORT: "0" }), 2);
    assert.equal(config.apiPort, 0);
    assert.equal(config.debugPort, 0);
  });
});

Deno.test("config rejects invalid values with a message naming the variable, value and rule", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ API_PORT: "abc" }, /^API_PORT="abc" is invalid: must be an integer from 0 to 65535$/],
    [{ API_PORT: "-1" }, /^API_PORT="-1" is invalid/],
    [
      { API_PORT: "65536" },
      /^API_PORT="65536" is out of range: must be an integer from 0 to 65535/,
    ],
    [{ API_PORT: "3.5" }, /^API_PORT="3.5" is invalid/],
    [{ API_PORT: "" }, /^API_PORT="" is invalid/],
    [{ DEBUG_PORT: "x1" }, /^DEBUG_PORT="x1" is invalid/],
    [{ SHUTDOWN_TIMEOUT_SEC: "0" }, /^SHUTDOWN_TIMEOUT_SEC="0" is out of range/],
    [{ SHUTDOWN_TIMEOUT_SEC: "ten" }, /^SHUTDOWN_TIMEOUT_SEC="ten" is invalid/],
    [{ ENVIRONMENT: "" }, /^ENVIRONMENT="" is invalid: must not be empty$/],
    [{ ENVIRONMENT: "   " }, /^ENVIRONMENT=" {3}" is invalid: must not be empty$/],
    [{ DATA_DIR: "" }, /^DATA_DIR="" is invalid: must not be empty$/],
    [
      { TLS_CERT_FILE: "/c.pem" },
      /^TLS_CERT_FILE is set but TLS_KEY_FILE is not: set both \(HTTPS on both ports\) or neither/,
    ],
    [
      { TLS_KEY_FILE: "/k.pem", TLS_CERT_FILE: "" },
      /^TLS_KEY_FILE is set but TLS_CERT_FILE is not/,
    ],
    [{ WORKERS: "0" }, /^WORKERS="0" is out of range: must be an integer from 1 to 64$/],
    [{ BATCH_MAX: "0" }, /^BATCH_MAX="0" is out of range/],
    [{ DATABASE_URL: "not a url" }, /^DATABASE_URL="not a url" is invalid: must be a URL/],
    [{ DATABASE_URL: "mysql://db/x" }, /^DATABASE_URL has scheme "mysql:"/],
    [
      { DATABASE_URL: "postgres://app:hunter2@db:99999/x" },
      /^DATABASE_URL="postgres:\/\/app:\*\*\*@db:99999\/x" is invalid: port "99999" is invalid/,
    ],
    [
      { DATABASE_URL: "postgres://app:hun/ter2@db/x" },
      /^DATABASE_URL="postgres:\/\/\*\*\*" is invalid: it has an "@" after its user info/,
    ],
    [
      { DATABASE_URL: "app:hunter2@db/x" },
      /^DATABASE_URL="\*\*\*@db\/x" is invalid: must be a URL/,
    ],
    [{ BLOCK_SIZE_MIN: "0" }, /^BLOCK_SIZE_MIN="0" is out of range: must be an integer from 1 to/],
    [{ BLOCK_SIZE_MAX: "1e3" }, /^BLOCK_SIZE_MAX="1e3" is invalid: must be an integer/],
    [
      { BLOCK_SIZE_MIN: "500", BLOCK_SIZE_MAX: "100" },
      /^BLOCK_SIZE_MIN=500 and BLOCK_SIZE_MAX=100 are invalid: BLOCK_SIZE_MIN must not exceed/,
    ],
    [
      { API_PORT: "4000", DEBUG_PORT: "4000" },
      /^API_PORT=4000 and DEBUG_PORT=4000 are invalid: the two ports must differ$/,
    ],
    [{ DEBUG_PORT: "3000" }, /^API_PORT=3000 and DEBUG_PORT=3000 are invalid/],
  ];
  for (const [vars, message] of cases) {
    await t.step(`${JSON.stringify(vars)} is a ConfigError`, () => {
      assert.throws(() => loadConfig(env(vars), 2), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  await t.step("any port string that is not a decimal integer in range is refused", () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const valid = /^\s*[0-9]+\s*$/.test(raw) && Number(raw.trim()) <= 65535;
        let threw = false;
        try {
          loadConfig(env({ API_PORT: raw, DEBUG_PORT: "1" }), 2);
        } catch (error) {
          assert.ok(error instanceof ConfigError && error.message.startsWith("API_PORT="));
          threw = true;
        }
        return threw === !valid || raw.trim() === "1";
      }),
    );
  });
});

Deno.test("block size bounds: one number per block, and a minimum above the default maximum", () => {
  const one = loadConfig(env({ BLOCK_SIZE_MIN: "1", BLOCK_SIZE_MAX: "1" }), 1);
  assert.deepEqual([one.blockSizeMin, one.blockSizeMax], [1, 1]);
  const big = loadConfig(env({ BLOCK_SIZE_MIN: "50000000" }), 1);
  assert.deepEqual([big.blockSizeMin, big.blockSizeMax], [50_000_000, 50_000_000]);
});

Deno.test("the store is the embedded one in DATA_DIR unless DATABASE_URL is set", async (t) => {
  await t.step("without DATABASE_URL: sqlite in DATA_DIR", () => {
    const config = loadConfig(env({ DATA_DIR: "/srv/seq", DATABASE_POOL_SIZE: "9" }), 1);
    assert.deepEqual(config.store, { kind: "sqlite", dataDir: "/srv/seq" });
    assert.equal(config.dataDir, "/srv/seq");
  });

  await t.step("with DATABASE_URL: postgres with the pool size; DATA_DIR stays top-level", () => {
    const config = loadConfig(
      env({ DATA_DIR: "/srv/seq", DATABASE_URL: "postgres://db/x", DATABASE_POOL_SIZE: "9" }),
      1,
    );
    assert.deepEqual(config.store, {
      kind: "postgres",
      url: "postgres://db/x",
      poolSize: 9,
      dataDir: "/srv/seq",
    });
    assert.equal(config.dataDir, "/srv/seq");
  });

  await t.step("an empty DATABASE_URL means the embedded store", () => {
    assert.equal(loadConfig(env({ DATABASE_URL: "" }), 1).store.kind, "sqlite");
  });

  await t.step("describeConfig shows the embedded store as it is", () => {
    const config = loadConfig(env({ DATA_DIR: "/srv/seq" }), 1);
    assert.deepEqual(describeConfig(config), { ...config });
  });
});

Deno.test("describeConfig hides the database password", () => {
  const config = loadConfig(env({ DATABASE_URL: "postgres://app:hunter2@db/seq" }), 1);
  const described = JSON.stringify(describeConfig(config));
  assert.ok(!described.includes("hunter2"));
  assert.match(described, /postgres:\/\/app:\*\*\*@db\/seq/);
});

Deno.test("DATABASE_URL accepts libpq URLs that WHATWG URL parsing rejects", async (t) => {
  for (
    const url of [
      "postgres://app:pw@db1:5432,db2:5433/seq?target_session_attrs=read-write",
      "postgresql:///seq?host=/run/postgresql",
      "postgres://app@[::1]:5432/seq",
      "POSTGRES://app@db/seq",
      "postgres://app:pa?ss#word@127.0.0.1:5432/db",
      "postgresql://%2Fvar%2Frun%2Fpostgresql/seq?application_name=a+b",
    ]
  ) {
    await t.step(url, () => {
      assert.deepEqual(loadConfig(env({ DATABASE_URL: url }), 1).store, {
        kind: "postgres",
        url,
        poolSize: 4,
        dataDir: "./data",
      });
    });
  }
});

Deno.test("describeConfig hides a password given in the user info or the query", async (t) => {
  for (
    const [url, shown] of [
      ["postgres://app:hunter2@db1:5432,db2/seq", "postgres://app:***@db1:5432,db2/seq"],
      [
        "postgres:///seq?host=/sock&password=hunter2&sslmode=disable",
        "postgres:///seq?host=/sock&password=***&sslmode=disable",
      ],
      ["postgres://app@db/seq", "postgres://app@db/seq"],
      ["postgres://app:pa?ss#hunter2@db/seq", "postgres://app:***@db/seq"],
    ]
  ) {
    await t.step(url, () => {
      const described = describeConfig(loadConfig(env({ DATABASE_URL: url }), 1));
      assert.deepEqual(described.store, {
        kind: "postgres",
        url: shown,
        poolSize: 4,
        dataDir: "./data",
      });
      assert.ok(!JSON.stringify(described).includes("hunter2"));
    });
  }
});

Deno.test("a refused DATABASE_URL never shows its password", () => {
  for (
    const url of ["app:hunter2@db/x", "postgres://app:hunter2@db:0/x", "postgres://a:hun@ter2@db/x"]
  ) {
    assert.throws(() => loadConfig(env({ DATABASE_URL: url }), 1), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.doesNotMatch(error.message, /hunter2|hun|ter2/);
      return true;
    });
  }
});

Deno.test("LOG_REQUESTS: off by default; true or false (1 or 0), anything else refused", async (t) => {
  for (
    const [raw, expected] of [
      [undefined, false],
      ["", false],
      ["true", true],
      ["TRUE", true],
      ["1", true],
      [" false ", false],
      ["0", false],
    ] as const
  ) {
    await t.step(`${JSON.stringify(raw)} is ${expected}`, () => {
      const vars: Record<string, string> = raw === undefined ? {} : { LOG_REQUESTS: raw };
      assert.equal(loadConfig(env(vars), 1).logRequests, expected);
    });
  }
  for (const raw of ["yes", "on", "2", "truee"]) {
    await t.step(`${JSON.stringify(raw)} is a ConfigError naming the variable and the rule`, () => {
      assert.throws(
        () => loadConfig(env({ LOG_REQUESTS: raw }), 1),
        (e) =>
          e instanceof ConfigError &&
          e.message ===
            `LOG_REQUESTS=${JSON.stringify(raw)} is invalid: must be true or false (or 1 or 0)`,
      );
    });
  }
});
