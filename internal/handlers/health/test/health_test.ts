import assert from "node:assert/strict";
import { createRouter } from "../../router.ts";
import { healthRoutes, hostName } from "../health.ts";

Deno.test("health endpoints report readiness and liveness", async (t) => {
  let ready = false;
  const router = createRouter(
    healthRoutes({ ready: () => ready, environment: "staging", host: "box-1" }),
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

  await t.step("liveness reports the build and host", async () => {
    assert.deepEqual(await get("/debug/liveness"), {
      status: 200,
      body: { status: "up", build: "staging", host: "box-1" },
    });
  });

  await t.step("the host name is read from the system, or unavailable", () => {
    const host = hostName();
    assert.ok(host.length > 0);
  });
});
