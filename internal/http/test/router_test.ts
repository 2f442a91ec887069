import assert from "node:assert/strict";
import fc from "fast-check";
import { type Access, createRouter, type Params, type Route, searchParams } from "../router.ts";
import { json, toJson } from "../respond.ts";
import { choiceParam, integerParam } from "../params.ts";
import { SequencerError } from "../../domain/domain.ts";

const router = createRouter([
  { method: "GET", path: "/a", access: "open", handler: () => json(200, { ok: 1 }) },
  { method: "PUT", path: "/a", access: "open", handler: () => json(201, { ok: 2 }) },
  {
    method: "GET",
    path: "/items/:id",
    access: "open",
    handler: (_r, ctx) => json(200, { id: ctx.params.id, query: ctx.query }),
  },
  {
    method: "GET",
    path: "/items/:id/parts/:part",
    access: "open",
    handler: (_r, ctx) => json(200, ctx.params),
  },
  {
    method: "GET",
    path: "/boom",
    access: "open",
    handler: () => {
      throw new Error("kaboom");
    },
  },
  {
    method: "GET",
    path: "/coded",
    access: "open",
    handler: () => Promise.reject(new SequencerError("conflict", "already there")),
  },
]);

async function call(method: string, path: string) {
  const res = await router(new Request(`http://x${path}`, { method }));
  return { status: res.status, headers: res.headers, body: await res.json() };
}

Deno.test("the router dispatches by path and method and answers errors in JSON", async (t) => {
  await t.step("exact and parameterised paths reach their handlers", async () => {
    assert.deepEqual((await call("GET", "/a")).body, { ok: 1 });
    assert.deepEqual((await call("PUT", "/a")).body, { ok: 2 });
    assert.deepEqual((await call("GET", "/items/42?x=1")).body, { id: "42", query: "x=1" });
    assert.deepEqual((await call("GET", "/items/7/parts/b")).body, { id: "7", part: "b" });
  });

  await t.step("an unknown path is 404 naming the path, with a code", async () => {
    for (const path of ["/nope", "/items", "/items/", "/items/1/parts", "/a/b"]) {
      const res = await call("GET", path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.status, "error");
      assert.equal(res.body.code, "no_route");
      assert.match(res.body.error, /no route for path/);
    }
  });

  await t.step("another method on a known path is 405 with Allow", async () => {
    const res = await call("DELETE", "/a");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, PUT");
    assert.equal(res.body.code, "method_not_allowed");
    assert.match(res.body.error, /"DELETE" is not allowed on "\/a": allowed GET, PUT/);
  });

  await t.step("a throwing handler is a JSON 500 and the router keeps serving", async () => {
    const res = await call("GET", "/boom");
    assert.equal(res.status, 500);
    assert.equal(res.body.code, "internal");
    assert.ok(!JSON.stringify(res.body).includes("kaboom"), "internals leak into the answer");
    assert.equal((await call("GET", "/a")).status, 200);
  });

  await t.step("a coded error is answered with its status, code and message", async () => {
    const res = await call("GET", "/coded");
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, { status: "error", code: "conflict", error: "already there" });
  });

  await t.step("a huge path is not echoed back whole", async () => {
    const res = await call("GET", "/" + "x".repeat(60_000));
    assert.equal(res.status, 404);
    assert.ok(res.body.error.length < 300, `the answer is ${res.body.error.length} characters`);
  });

  await t.step("a route defined twice is refused at build time", () => {
    assert.throws(
      () =>
        createRouter([
          { method: "GET", path: "/a", access: "open", handler: () => json(200, {}) },
          { method: "GET", path: "/a", access: "open", handler: () => json(200, {}) },
        ]),
      /defined twice/,
    );
  });

  await t.step("a route that does not say who may call it is refused at build time", () => {
    assert.throws(
      () =>
        createRouter([
          { method: "GET", path: "/a", handler: () => json(200, {}) } as unknown as Route,
        ]),
      /GET \/a does not say who may call it/,
    );
  });

  await t.step("dot segments are resolved; an escaped path is not the literal path", async () => {
    // A server hands the router the request target as sent; a Request built here is normalised.
    const req = new Request("http://x/a");
    Object.defineProperty(req, "url", { value: "http://x/items/./../a" });
    assert.deepEqual(await (await router(req)).json(), { ok: 1 });
    assert.equal((await call("GET", "/%61")).status, 404);
  });

  await t.step("a Host that is not a valid host is a JSON 400, every time", async () => {
    for (const host of ["[", "a b", "[::1"]) {
      for (let i = 0; i < 2; i++) {
        const req = new Request("http://x/a");
        Object.defineProperty(req, "url", { value: `http://${host}/a` });
        const res = await router(req);
        assert.equal(res.status, 400, host);
        const body = await res.json();
        assert.equal(body.code, "invalid");
        assert.match(body.error, /Host header is invalid/);
      }
    }
    assert.equal((await call("GET", "/a")).status, 200, "a valid host is served after a bad one");
  });
});

Deno.test("the JSON helper writes bigints as exact digits", () => {
  assert.equal(toJson({ n: 9223372036854775807n, m: -5n }), '{"n":9223372036854775807,"m":-5}');
});

Deno.test("query parameters follow one rule: given once, canonical integers in bounds", async (t) => {
  const rule = { name: "n", min: 1, max: 300, defaultValue: 30 };
  const parse = (query: string) => integerParam(new URLSearchParams(query), rule);
  await t.step("absent is the default; bounds are inclusive", () => {
    assert.equal(parse(""), 30);
    assert.equal(parse("n=1"), 1);
    assert.equal(parse("n=300"), 300);
  });
  await t.step("listed bad values are invalid errors naming the parameter and the rule", () => {
    for (
      const query of [
        "n=0",
        "n=301",
        "n=007",
        "n=05",
        "n=",
        "n=+5",
        "n=-1",
        "n=1.5",
        "n=1e2",
        "n=1&n=1",
      ]
    ) {
      assert.throws(() => parse(query), (error: unknown) => {
        assert.ok(error instanceof SequencerError);
        assert.equal(error.code, "invalid", query);
        assert.match(error.message, /query parameter n/, query);
        return true;
      }, query);
    }
  });
  await t.step(
    "a string is accepted exactly when it is a canonical integer in range (property)",
    () => {
      fc.assert(fc.property(fc.string(), (raw) => {
        const valid = /^(0|[1-9][0-9]*)$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 300;
        try {
          return parse(`n=${encodeURIComponent(raw)}`) === Number(raw) && valid;
        } catch {
          return !valid;
        }
      }));
    },
  );
  await t.step("choices are one of the list, once", () => {
    const allowed = ["a", "b"] as const;
    assert.equal(choiceParam(new URLSearchParams(""), "f", allowed), "a");
    assert.equal(choiceParam(new URLSearchParams("f=b"), "f", allowed), "b");
    for (const query of ["f=c", "f=", "f=a&f=a"]) {
      assert.throws(
        () => choiceParam(new URLSearchParams(query), "f", allowed),
        /query parameter f/,
      );
    }
  });
  await t.step("searchParams reads the raw query of the context", () => {
    assert.equal(searchParams({ path: "/", query: "a=1&b=2", params: {}, peer: "" }).get("b"), "2");
  });
});

Deno.test("a router with a guard asks it before each handler, with the route's access", async (t) => {
  const asked: { access: Access; params: Params }[] = [];
  let handled = 0;
  const guarded = createRouter([
    {
      method: "GET",
      path: "/open",
      access: "open",
      handler: () => json(200, { handled: ++handled }),
    },
    { method: "PUT", path: "/s/:name", access: "admin", handler: () => json(200, {}) },
    {
      method: "GET",
      path: "/s/:name",
      access: { next: { param: "name" } },
      handler: () => json(200, { handled: ++handled }),
    },
  ], {
    guard: (req, access, params) => {
      asked.push({ access, params });
      return req.headers.get("x-allow") === "yes" ? undefined : json(401, { refused: true });
    },
  });
  const call = async (method: string, path: string, allow: boolean) => {
    const res = await guarded(
      new Request(`http://x${path}`, { method, headers: allow ? { "x-allow": "yes" } : {} }),
    );
    return { status: res.status, body: await res.json() };
  };

  await t.step("a refusal is the answer and the handler never runs", async () => {
    assert.deepEqual(await call("GET", "/s/orders", false), {
      status: 401,
      body: { refused: true },
    });
    assert.equal(handled, 0);
    assert.deepEqual(asked.at(-1), {
      access: { next: { param: "name" } },
      params: { name: "orders" },
    });
  });
  await t.step("a request the guard lets through reaches its handler", async () => {
    assert.deepEqual(await call("GET", "/s/orders", true), { status: 200, body: { handled: 1 } });
    await call("PUT", "/s/x", true);
    assert.deepEqual(asked.at(-1)?.access, "admin");
  });
  await t.step("unknown paths and methods are answered before the guard is asked", async () => {
    const before = asked.length;
    assert.equal((await call("GET", "/nothing", false)).status, 404);
    assert.equal((await call("DELETE", "/s/x", false)).status, 405);
    assert.equal(asked.length, before);
  });
  await t.step("without a guard every route is reached", async () => {
    const open = createRouter([
      { method: "GET", path: "/a", access: "admin", handler: () => json(200, { ok: 1 }) },
    ]);
    assert.equal((await open(new Request("http://x/a"))).status, 200);
  });
});
