import assert from "node:assert/strict";
import { createRouter } from "../router.ts";
import { json, toJson } from "../respond.ts";

const router = createRouter([
  { method: "GET", path: "/a", handler: () => json(200, { ok: 1 }) },
  { method: "PUT", path: "/a", handler: () => json(201, { ok: 2 }) },
  { method: "GET", path: "/items/:id", handler: (_r, _u, p) => json(200, { id: p.id }) },
  {
    method: "GET",
    path: "/boom",
    handler: () => {
      throw new Error("kaboom");
    },
  },
]);

async function call(method: string, path: string) {
  const res = await router(new Request(`http://x${path}`, { method }));
  return { status: res.status, headers: res.headers, body: await res.json() };
}

Deno.test("the router dispatches by path and method and answers errors in JSON", async (t) => {
  await t.step("exact and parameterised paths reach their handlers", async () => {
    assert.deepEqual(await call("GET", "/a").then((r) => r.body), { ok: 1 });
    assert.deepEqual(await call("PUT", "/a").then((r) => r.status), 201);
    assert.deepEqual(await call("GET", "/items/42").then((r) => r.body), { id: "42" });
  });

  await t.step("an unknown path is 404 naming the path", async () => {
    const res = await call("GET", "/nope");
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { status: "error", error: 'no route for path "/nope"' });
    assert.equal(res.headers.get("content-type"), "application/json");
  });

  await t.step("another method on a known path is 405 with Allow", async () => {
    const res = await call("DELETE", "/a");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, PUT");
    assert.equal(res.body.status, "error");
    assert.match(res.body.error, /method DELETE is not allowed on \/a: allowed GET, PUT/);
  });

  await t.step("a throwing handler is a JSON 500 and the router keeps serving", async () => {
    const res = await call("GET", "/boom");
    assert.equal(res.status, 500);
    assert.equal(res.body.status, "error");
    assert.equal((await call("GET", "/a")).status, 200);
  });

  await t.step("a route defined twice is refused at build time", () => {
    assert.throws(
      () =>
        createRouter([
          { method: "GET", path: "/x", handler: () => json(200, {}) },
          { method: "GET", path: "/x", handler: () => json(200, {}) },
        ]),
      /defined twice/,
    );
  });
});

Deno.test("the JSON helper writes bigints as exact digits", () => {
  assert.equal(toJson({ n: 9223372036854775807n, m: -5n }), '{"n":9223372036854775807,"m":-5}');
});

Deno.test("the fast path answers exact routes without parsing, and falls through otherwise", async (t) => {
  const seen: string[] = [];
  const router = createRouter([
    {
      method: "GET",
      path: "/hot",
      handler: (_req, url) => json(200, { via: "handler", search: url.search }),
      fast: (_req, search) => {
        seen.push(search);
        return search === "" ? json(200, { via: "fast" }) : undefined;
      },
    },
  ]);
  const call = async (path: string, method = "GET") => {
    const res = await router(new Request(`http://h:1${path}`, { method }));
    return { status: res.status, body: await res.json() };
  };
  await t.step("no query: the fast path answers", async () => {
    assert.deepEqual((await call("/hot")).body, { via: "fast" });
  });
  await t.step("a query it declines goes to the handler with the parsed URL", async () => {
    assert.deepEqual((await call("/hot?x=1")).body, { via: "handler", search: "?x=1" });
    assert.deepEqual(seen.at(-1), "?x=1");
  });
  await t.step("other methods still get 405, not the fast path", async () => {
    assert.equal((await call("/hot", "POST")).status, 405);
  });
  await t.step("a dotted path is normalised by the Request URL and answered", async () => {
    assert.deepEqual((await call("/a/../hot")).body, { via: "fast" });
  });
  await t.step("an escaped path is not the literal path: 404 from the full parse", async () => {
    const before = seen.length;
    assert.equal((await call("/h%6Ft")).status, 404);
    assert.equal(seen.length, before);
  });
});
