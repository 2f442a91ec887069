import assert from "node:assert/strict";
import { createAccessControl } from "../guard.ts";
import { parseTokenFile } from "../token_file.ts";
import { newToken, tokenLine } from "../token.ts";
import { parseScopes } from "../scope.ts";
import { createRouter, type Route } from "../../http/router.ts";
import { json } from "../../http/respond.ts";

const ok = () => json(200, { status: "ok" });
const routes: Route[] = [
  { method: "GET", path: "/open", access: "open", handler: ok },
  { method: "GET", path: "/default", access: { next: { name: "default" } }, handler: ok },
  { method: "GET", path: "/next/:name", access: { next: { param: "name" } }, handler: ok },
  { method: "PUT", path: "/next/:name", access: "admin", handler: ok },
];

const tokens = {
  admin: newToken(),
  all: newToken(),
  orders: newToken(),
  defaults: newToken(),
  later: newToken(),
};
const table = (names: (keyof typeof tokens)[]) =>
  parseTokenFile(
    names.map((n) =>
      tokenLine(
        tokens[n],
        parseScopes([
          n === "admin"
            ? "admin"
            : n === "all"
            ? "next:*"
            : n === "orders"
            ? "next:orders,invoices"
            : n === "defaults"
            ? "next:default"
            : "next:later",
        ]),
      )
    ).join("\n"),
    { file: "tokens" },
  );

const access = createAccessControl(table(["admin", "all", "orders", "defaults"]));
const router = createRouter(routes, { guard: access.guard });

async function call(method: string, path: string, authorization?: string) {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const res = await router(new Request(`http://x${path}`, { method, headers }));
  return {
    status: res.status,
    challenge: res.headers.get("www-authenticate"),
    body: await res.json(),
  };
}
const bearer = (name: keyof typeof tokens) => `Bearer ${tokens[name]}`;

Deno.test("the guard answers 401 without a known token and 403 outside its scopes", async (t) => {
  await t.step("open routes need no token", async () => {
    assert.equal((await call("GET", "/open")).status, 200);
    assert.equal((await call("GET", "/open", "Bearer nonsense")).status, 200);
  });

  await t.step("no token: 401 with a Bearer challenge, as JSON", async () => {
    const res = await call("GET", "/default");
    assert.equal(res.status, 401);
    assert.equal(res.challenge, 'Bearer realm="sequencer"');
    assert.deepEqual(res.body, {
      status: "error",
      code: "unauthorized",
      error: "this request needs an access token: send Authorization: Bearer <token>",
    });
  });

  for (const header of ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", `Token ${tokens.admin}`]) {
    await t.step(`not a bearer token (${header.split(" ")[0]}…): 401 invalid_token`, async () => {
      const res = await call("GET", "/default", header);
      assert.equal(res.status, 401);
      assert.equal(res.challenge, 'Bearer realm="sequencer", error="invalid_token"');
      assert.match(res.body.error, /not a bearer token/);
    });
  }

  await t.step("an unknown token: 401 invalid_token, never echoed", async () => {
    const guess = tokens.admin.slice(0, -1) + (tokens.admin.endsWith("A") ? "B" : "A");
    for (const candidate of [guess, "x".repeat(10_000), tokens.later]) {
      const res = await call("GET", "/default", `Bearer ${candidate}`);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, "unauthorized");
      assert.match(res.body.error, /not known/);
      assert.ok(!JSON.stringify(res.body).includes(candidate.slice(0, 20)));
    }
  });

  await t.step("the scheme is case-insensitive", async () => {
    assert.equal((await call("GET", "/default", `bearer ${tokens.all}`)).status, 200);
    assert.equal((await call("GET", "/default", `BEARER  ${tokens.all} `)).status, 200);
  });

  await t.step(
    "next:<names> allows exactly those sequences, decoded as the handler does",
    async () => {
      assert.equal((await call("GET", "/next/orders", bearer("orders"))).status, 200);
      assert.equal((await call("GET", "/next/invoices", bearer("orders"))).status, 200);
      assert.equal((await call("GET", "/next/%6Frders", bearer("orders"))).status, 200);
      const res = await call("GET", "/next/payroll", bearer("orders"));
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, {
        status: "error",
        code: "forbidden",
        error: `the access token's scopes do not allow sequence "payroll": ` +
          "it needs next:payroll, next:* or admin",
        details: { needed: "next:payroll, next:* or admin" },
      });
      assert.equal(
        res.challenge,
        'Bearer realm="sequencer", error="insufficient_scope", scope="next:payroll"',
      );
      assert.equal((await call("GET", "/default", bearer("orders"))).status, 403);
      assert.equal((await call("GET", "/default", bearer("defaults"))).status, 200);
      assert.equal((await call("GET", "/next/%E0%A4%A", bearer("orders"))).status, 403);
    },
  );

  await t.step("next:* allows every sequence but no admin route", async () => {
    assert.equal((await call("GET", "/next/anything", bearer("all"))).status, 200);
    assert.equal((await call("GET", "/default", bearer("all"))).status, 200);
    const res = await call("PUT", "/next/x", bearer("all"));
    assert.equal(res.status, 403);
    assert.equal(
      res.body.error,
      "the access token's scopes do not allow PUT on this path: it needs admin",
    );
  });

  await t.step("admin allows everything", async () => {
    for (const [method, path] of [["GET", "/default"], ["GET", "/next/x"], ["PUT", "/next/x"]]) {
      assert.equal((await call(method, path, bearer("admin"))).status, 200);
    }
  });

  await t.step("a new table is in force for the next request", async () => {
    assert.equal((await call("GET", "/next/later", bearer("later"))).status, 401);
    access.replace(table(["later"]));
    assert.equal(access.size, 1);
    assert.equal((await call("GET", "/next/later", bearer("later"))).status, 200);
    assert.equal((await call("GET", "/next/later", bearer("admin"))).status, 401);
    access.replace(table(["admin", "all", "orders", "defaults"]));
  });
});
