/**
 * Access tokens on a real process (WORKERS=2, started with the flags of `deno task run`): missing,
 * unknown and wrong-scope tokens get 401 and 403 JSON on the API; the debug port's profiles need
 * `admin` while probes and metrics stay open; SIGHUP puts an edited token file in force in every
 * worker, or keeps the tokens in force when the new file is refused; no token is ever in a log.
 */
import assert from "node:assert/strict";
import { eventually } from "../../launch/eventually.ts";
import { parseScopes } from "../../auth/scope.ts";
import { newToken, tokenLine } from "../../auth/token.ts";
import { runToExit, type ServiceProcess, startService } from "../../launch/service.ts";

/** A token and its line of the token file. */
function token(...scopes: string[]): { token: string; line: string } {
  const value = newToken();
  return { token: value, line: tokenLine(value, parseScopes(scopes)) };
}

/** One request on a connection of its own (so the kernel may hand it to any worker). */
async function call(
  url: string,
  options: { token?: string; method?: string; body?: string } = {},
): Promise<{ status: number; challenge: string | null; body: Record<string, unknown> }> {
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(url, {
      client,
      method: options.method ?? "GET",
      body: options.body,
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
    });
    const text = await res.text();
    const type = res.headers.get("content-type") ?? "";
    return {
      status: res.status,
      challenge: res.headers.get("www-authenticate"),
      body: type.startsWith("application/json") ? JSON.parse(text) : { text },
    };
  } finally {
    client.close();
  }
}

Deno.test("access tokens on a real service with two workers", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-auth-" });
  const file = `${dir}/tokens`;
  const admin = token("admin");
  const orders = token("next:orders,invoices");
  const all = token("next:*");
  const later = token("next:later");
  const secrets = [admin, orders, all, later].map((t) => t.token);
  await Deno.writeTextFile(
    file,
    `# test tokens\n${admin.line}\n${orders.line}  # the orders service\n${all.line}\n`,
  );
  let service: ServiceProcess | undefined;
  try {
    service = await startService({ DATA_DIR: dir, WORKERS: "2", AUTH_TOKENS_FILE: file });
    const { api, debug } = service;

    await t.step("the startup says tokens are on, and gives no warning", async () => {
      const on = await service!.waitForLog((e) => e.msg === "access tokens on");
      assert.equal(on.tokens, 3);
      assert.ok(!service!.lines.some((line) => line.includes('"level":"warn"')));
    });

    await t.step("no token: 401 JSON with WWW-Authenticate: Bearer", async () => {
      for (const path of ["/v1/sequence", "/v1/sequence/orders", "/v1/sequences"]) {
        const res = await call(`${api}${path}`);
        assert.equal(res.status, 401, path);
        assert.equal(res.challenge, 'Bearer realm="sequencer"');
        assert.equal(res.body.code, "unauthorized");
        assert.match(String(res.body.error), /needs an access token/);
      }
    });

    await t.step("an unknown token: 401 JSON, invalid_token", async () => {
      for (const guess of [later.token, admin.token.slice(0, -2), "x"]) {
        const res = await call(`${api}/v1/sequence`, { token: guess });
        assert.equal(res.status, 401);
        assert.equal(res.challenge, 'Bearer realm="sequencer", error="invalid_token"');
        assert.equal(res.body.code, "unauthorized");
      }
    });

    await t.step("admin creates sequences; next:* cannot (403 JSON naming the scope)", async () => {
      for (const name of ["orders", "invoices", "payroll"]) {
        const res = await call(`${api}/v1/sequences/${name}`, {
          token: admin.token,
          method: "PUT",
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
      const res = await call(`${api}/v1/sequences/x`, { token: all.token, method: "PUT" });
      assert.equal(res.status, 403);
      assert.equal(res.body.code, "forbidden");
      assert.equal(
        res.body.error,
        "the access token's scopes do not allow PUT on this path: it needs admin",
      );
      assert.match(String(res.challenge), /error="insufficient_scope", scope="admin"/);
    });

    await t.step("the scope of each route, token by token", async () => {
      const table: [string, string, { token: string }, number][] = [
        ["GET", "/v1/sequence", orders, 403],
        ["GET", "/v1/sequence", all, 200],
        ["GET", "/v1/sequence", admin, 200],
        ["GET", "/v1/sequence/orders", orders, 200],
        ["GET", "/v1/sequence/invoices?count=5", orders, 200],
        ["GET", "/v1/sequence/payroll", orders, 403],
        ["GET", "/v1/sequence/payroll", all, 200],
        ["GET", "/v1/sequences/orders", orders, 200],
        ["GET", "/v1/sequences/payroll", orders, 403],
        ["GET", "/v1/sequences/payroll", all, 200],
        ["GET", "/v1/sequences", orders, 403],
        ["GET", "/v1/sequences", all, 403],
        ["GET", "/v1/sequences", admin, 200],
        ["PUT", "/v1/sequences/orders", orders, 403],
        ["PUT", "/v1/sequences/orders", admin, 200],
      ];
      for (const [method, path, who, status] of table) {
        const res = await call(`${api}${path}`, { token: who.token, method });
        assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
        if (status === 403) {
          assert.equal(res.body.status, "error");
          assert.equal(res.body.code, "forbidden");
        }
      }
      const wrong = await call(`${api}/v1/sequence/payroll`, { token: orders.token });
      assert.deepEqual(wrong.body, {
        status: "error",
        code: "forbidden",
        error: `the access token's scopes do not allow sequence "payroll": ` +
          "it needs next:payroll, next:* or admin",
        details: { needed: "next:payroll, next:* or admin" },
      });
    });

    await t.step(
      "debug: probes and metrics are open; profiles, traces and cmdline need admin",
      async () => {
        for (const path of ["/debug/readiness", "/debug/liveness", "/debug/metrics"]) {
          assert.equal((await call(`${debug}${path}`)).status, 200, path);
        }
        const guarded = [
          "/debug/pprof/",
          "/debug/pprof/cmdline",
          "/debug/pprof/profile?seconds=1",
          "/debug/pprof/heap?seconds=1",
          "/debug/pprof/trace?seconds=1",
          "/debug/pprof/symbol",
        ];
        for (const path of guarded) {
          const none = await call(`${debug}${path}`);
          assert.equal(none.status, 401, path);
          assert.equal(none.body.code, "unauthorized");
          assert.equal((await call(`${debug}${path}`, { token: all.token })).status, 403, path);
        }
        const cmdline = await call(`${debug}/debug/pprof/cmdline`, { token: admin.token });
        assert.equal(cmdline.status, 200);
        const profile = await call(`${debug}/debug/pprof/profile?seconds=1`, {
          token: admin.token,
        });
        assert.equal(profile.status, 200);
      },
    );

    await t.step("SIGHUP: a token added to the file works in every worker", async () => {
      assert.equal((await call(`${api}/v1/sequence/later`, { token: later.token })).status, 401);
      await call(`${api}/v1/sequences/later`, { token: admin.token, method: "PUT" });
      await Deno.writeTextFile(file, `${later.line}\n`, { append: true });
      service!.kill("SIGHUP");
      await eventually(
        "the new token is accepted",
        async () => (await call(`${api}/v1/sequence/later`, { token: later.token })).status === 200,
      );
      const reloaded = await service!.waitForLog((e) => e.msg === "access tokens reloaded");
      assert.equal(reloaded.tokens, 4);
      assert.equal(reloaded.workers, 2, "both workers confirmed the new tokens");
      // New connections are spread over both workers by the kernel: every one accepts it.
      for (let i = 0; i < 20; i++) {
        assert.equal((await call(`${api}/v1/sequence/later`, { token: later.token })).status, 200);
      }
    });

    await t.step(
      "SIGHUP with a refused file: one error line, the tokens in force stay",
      async () => {
        const before = service!.lines.length;
        await Deno.writeTextFile(file, `${admin.line}\n${later.token} next:*\n`);
        service!.kill("SIGHUP");
        const refused = await service!.waitForLog((e) =>
          e.msg === "access tokens not reloaded: the file is refused; the tokens in force stay"
        );
        assert.match(String(refused.error), new RegExp(`^AUTH_TOKENS_FILE=${file} line 2: `));
        const errors = service!.lines.slice(before).filter((l) => l.includes('"level":"error"'));
        assert.equal(errors.length, 1, errors.join("\n"));
        for (let i = 0; i < 10; i++) {
          assert.equal(
            (await call(`${api}/v1/sequence/later`, { token: later.token })).status,
            200,
          );
          assert.equal((await call(`${api}/v1/sequence`, { token: all.token })).status, 200);
        }
      },
    );

    await t.step("SIGHUP: a token removed from the file is refused in every worker", async () => {
      await Deno.writeTextFile(file, `${admin.line}\n${orders.line}\n`);
      service!.kill("SIGHUP");
      await eventually(
        "the removed token is refused",
        async () => (await call(`${api}/v1/sequence`, { token: all.token })).status === 401,
      );
      await service!.waitForLog((e) => e.msg === "access tokens reloaded" && e.tokens === 2);
      for (let i = 0; i < 20; i++) {
        assert.equal((await call(`${api}/v1/sequence`, { token: all.token })).status, 401);
      }
    });

    await t.step("no token appears in any log line or on stderr", async () => {
      service!.kill("SIGTERM");
      const status = await service!.status;
      assert.equal(status.code, 0, status.stderr);
      const output = [...service!.lines, status.stderr].join("\n");
      assert.ok(service!.lines.length > 5);
      for (const secret of secrets) {
        assert.ok(!output.includes(secret), "a token is in the output");
        assert.ok(!output.includes(secret.slice(0, 16)), "part of a token is in the output");
      }
    });
  } finally {
    service?.kill("SIGKILL");
    await service?.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokens off: one warning line at startup, and every route is open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-auth-off-" });
  const service = await startService({ DATA_DIR: dir, WORKERS: "1" });
  try {
    assert.equal((await call(`${service.api}/v1/sequence`)).status, 200);
    assert.equal((await call(`${service.debug}/debug/pprof/cmdline`)).status, 200);
    service.kill("SIGHUP");
    await service.waitForLog((e) => e.msg.startsWith("SIGHUP: access tokens are off"));
    const warnings = service.lines.filter((line) => line.includes('"level":"warn"'));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /access tokens are off: .* set AUTH_TOKENS_FILE/);
  } finally {
    service.kill("SIGTERM");
    assert.equal((await service.status).code, 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a token file that breaks a rule stops the startup with one line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-auth-bad-" });
  try {
    const pasted = newToken();
    const cases: [string, string, RegExp][] = [
      [
        "the token itself pasted in",
        `# x\n${pasted}\n`,
        /line 2: the first word is not a SHA-256 digest/,
      ],
      [
        "a bad scope",
        `${token("admin").line.split(" ")[0]} next:a,*\n`,
        /line 1: the scope mixes \* with names/,
      ],
    ];
    for (const [what, text, message] of cases) {
      await t.step(`${what}: exit 1 naming the file, the line and the rule`, async () => {
        await Deno.writeTextFile(`${dir}/tokens`, text);
        const result = await runToExit({
          DATA_DIR: dir,
          API_PORT: "0",
          DEBUG_PORT: "0",
          AUTH_TOKENS_FILE: `${dir}/tokens`,
        });
        assert.equal(result.code, 1);
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`AUTH_TOKENS_FILE=${dir}/tokens line \\d+: `));
        assert.match(result.stderr, message);
        assert.ok(!result.stdout.includes("listening"));
        assert.ok(!(result.stdout + result.stderr).includes(pasted));
      });
    }
    await t.step("a missing file: exit 1 naming it", async () => {
      const result = await runToExit({
        DATA_DIR: dir,
        API_PORT: "0",
        DEBUG_PORT: "0",
        AUTH_TOKENS_FILE: `${dir}/missing`,
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`AUTH_TOKENS_FILE=${dir}/missing cannot be read`));
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
