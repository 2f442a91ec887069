import assert from "node:assert/strict";
import { createRouter } from "../../../http/router.ts";
import { type ApiHealth, healthRoutes, hostName } from "../health.ts";

Deno.test("health endpoints report readiness and liveness", async (t) => {
  let ready = false;
  let api: ApiHealth | undefined;
  const router = createRouter(
    healthRoutes({
      ready: () => ready,
      environment: "staging",
      host: "box-1",
      api: () => api,
      downAfterMs: 30_000,
    }),
  );
  const get = async (path: string) => {
    const res = await router(new Request(`http://x${path}`));
    return { status: res.status, body: await res.json() };
  };

  await t.step("readiness is 503 not ready until the service can serve", async () => {
    assert.deepEqual(await get("/debug/readiness"), {
      status: 503,
      body: { status: "not ready" },
    });
  });

  await t.step("readiness is 200 ok once ready", async () => {
    ready = true;
    assert.deepEqual(await get("/debug/readiness"), { status: 200, body: { status: "ok" } });
  });

  await t.step("liveness reports the build and host while starting", async () => {
    assert.deepEqual(await get("/debug/liveness"), {
      status: 200,
      body: { status: "up", build: "staging", host: "box-1" },
    });
  });

  await t.step("liveness reports the API listeners, up while any listens", async () => {
    api = { workers: 2, listening: 1, downForMs: 0 };
    assert.deepEqual(await get("/debug/liveness"), {
      status: 200,
      body: { status: "up", build: "staging", host: "box-1", api: { workers: 2, listening: 1 } },
    });
    api = { workers: 2, listening: 0, downForMs: 29_000 };
    assert.equal((await get("/debug/liveness")).status, 200, "down, but within the grace time");
  });

  await t.step(
    "liveness is 503 once no listener has listened for longer than allowed",
    async () => {
      api = { workers: 2, listening: 0, downForMs: 31_000 };
      const res = await get("/debug/liveness");
      assert.equal(res.status, 503);
      assert.equal(res.body.status, "down");
      assert.deepEqual(res.body.api, { workers: 2, listening: 0 });
      assert.match(res.body.error, /no API listener has accepted connections for 31 s/);
    },
  );

  await t.step("the host name is the system's, or unavailable without permission", async () => {
    const host = hostName();
    const allowed = (await Deno.permissions.query({ name: "sys", kind: "hostname" })).state;
    if (allowed === "granted") assert.equal(host, Deno.hostname());
    else assert.equal(host, "unavailable");
    assert.notEqual(host, "");
  });
});
