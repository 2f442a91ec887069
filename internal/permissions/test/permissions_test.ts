import assert from "node:assert/strict";
import { EXTRA_ENV, permissionFlags } from "../permissions.ts";

const ROOT = "/srv/app";
const flagsOf = (vars: Record<string, string>, compiled = false) =>
  permissionFlags((name) => vars[name], { root: ROOT, compiled });

function list(flags: string[], name: string): string[] | undefined {
  return flags.find((flag) => flag.startsWith(`--allow-${name}=`))?.slice(`--allow-${name}=`.length)
    .split(",");
}

Deno.test("permission flags follow the configuration", async (t) => {
  await t.step("the defaults: code, cache, ./data and the lock file of port 3000", () => {
    const { flags, unusable } = flagsOf({ HOME: "/home/u" });
    assert.deepEqual(list(flags, "read"), [
      "/srv/app/cmd",
      "/srv/app/internal",
      "/home/u/.cache/deno",
      "./data",
      "/tmp/sequencer-api-3000.lock",
    ]);
    assert.deepEqual(list(flags, "write"), ["./data", "/tmp/sequencer-api-3000.lock"]);
    assert.deepEqual(list(flags, "net"), ["0.0.0.0:3000", "127.0.0.1:3001"]);
    assert.equal(flags.at(-1), "--allow-sys");
    assert.deepEqual(unusable, []);
  });

  await t.step("env: exactly what the configuration read, and the few read elsewhere", () => {
    const env = list(flagsOf({}).flags, "env")!;
    for (
      const name of ["API_PORT", "DEBUG_HOST", "DATABASE_URL", "AUTH_TOKENS_FILE", "TLS_KEY_FILE"]
    ) {
      assert.ok(env.includes(name), name);
    }
    for (const name of EXTRA_ENV) assert.ok(env.includes(name), name);
    assert.equal(new Set(env).size, env.length, "no name twice");
    assert.ok(!env.includes("PATH") && !env.includes("*"));
  });

  await t.step("IPv6 listeners and hosts are bracketed; port 0 allows any port", () => {
    const { flags } = flagsOf({
      API_HOST: "::",
      API_PORT: "0",
      DEBUG_HOST: "::1",
      DEBUG_PORT: "9000",
      DATABASE_URL: "postgres://u@[fd00::5]:6432,db.internal/x",
    });
    assert.deepEqual(list(flags, "net"), [
      "[::]",
      "[::1]:9000",
      "[fd00::5]:6432",
      "db.internal:5432",
    ]);
  });

  await t.step("PGPORT is the port of a host given without one, as the store reads it", () => {
    const { flags } = flagsOf({ DATABASE_URL: "postgres://u@db/x", PGPORT: "6543" });
    assert.ok(list(flags, "net")!.includes("db:6543"));
  });

  await t.step("a compiled binary reads neither the code nor the cache", () => {
    const read = list(flagsOf({ HOME: "/home/u" }, true).flags, "read")!;
    assert.deepEqual(read, ["./data", "/tmp/sequencer-api-3000.lock"]);
  });

  await t.step("an invalid configuration gets env only, so the service reports it itself", () => {
    const { flags } = flagsOf({ API_PORT: "nope", DATA_DIR: "/d" });
    assert.equal(flags.length, 1);
    assert.match(flags[0], /^--allow-env=API_PORT,/);
  });

  await t.step("paths a flag cannot carry are reported", () => {
    const { unusable } = flagsOf({ DATA_DIR: "/my data", AUTH_TOKENS_FILE: "/a,b" });
    assert.deepEqual(unusable.sort(), ["/a,b", "/my data"]);
  });

  await t.step("no password reaches a flag", () => {
    const { flags } = flagsOf({ DATABASE_URL: "postgres://u:hunter2@db/x?password=hunter3" });
    assert.ok(!flags.join(" ").includes("hunter"));
  });
});
