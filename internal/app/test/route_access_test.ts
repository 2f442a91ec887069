/**
 * Who may call each route when access tokens are on: the table the README and the report give,
 * checked against the routes both servers serve, so a route added or changed without deciding
 * who may call it fails here.
 */
import assert from "node:assert/strict";
import type { Sequences } from "../../domain/domain.ts";
import type { Access } from "../../http/router.ts";
import { apiRoutes } from "../routes.ts";
import { inertDebugRoutes } from "./_support.ts";

/** `METHOD path → access` of `routes`. */
function table(routes: { method: string; path: string; access: Access }[]) {
  return Object.fromEntries(routes.map((route) => [`${route.method} ${route.path}`, route.access]));
}

Deno.test("the API: next-number paths need next:<name>, reading one sequence too, the rest admin", () => {
  assert.deepEqual(table(apiRoutes({} as Sequences, { batchMax: 1 })), {
    "GET /v1/sequence": { next: { name: "default" } },
    "GET /v1/sequence/:name": { next: { param: "name" } },
    "GET /v1/sequences": "admin",
    "GET /v1/sequences/:name": { next: { param: "name" } },
    "PUT /v1/sequences/:name": "admin",
    "PATCH /v1/sequences/:name": "admin",
    "DELETE /v1/sequences/:name": "admin",
  });
});

Deno.test("the debug port: probes and metrics open, everything else admin", () => {
  const { routes, profiler } = inertDebugRoutes();
  profiler.stop();
  const open = ["GET /debug/readiness", "GET /debug/liveness", "GET /debug/metrics"];
  for (const [route, access] of Object.entries(table(routes))) {
    assert.equal(access, open.includes(route) ? "open" : "admin", route);
  }
  for (const route of open) assert.ok(route in table(routes), route);
});
