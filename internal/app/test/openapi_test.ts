import assert from "node:assert/strict";
import { apiRoutes } from "../routes.ts";
import type { Sequences } from "../../domain/domain.ts";
import { inertDebugRoutes } from "./_support.ts";

const spec = await Deno.readTextFile(new URL("../../../docs/openapi.yaml", import.meta.url));

/** `path → methods` of the document's `paths:` section (two-space path keys, four-space methods). */
function documented(): Map<string, Set<string>> {
  const paths = new Map<string, Set<string>>();
  const section = spec.slice(spec.indexOf("\npaths:\n"), spec.indexOf("\ncomponents:\n"));
  let current: Set<string> | undefined;
  for (const line of section.split("\n")) {
    const path = /^ {2}(\/\S*):$/.exec(line);
    if (path) paths.set(path[1], current = new Set());
    const method = /^ {4}(get|put|post|delete|patch|head|options):$/.exec(line);
    if (method && current) current.add(method[1].toUpperCase());
  }
  return paths;
}

Deno.test("docs/openapi.yaml describes every route both servers serve, and nothing else", () => {
  const routes = [
    ...apiRoutes({} as Sequences, { batchMax: 1 }),
    ...inertDebugRoutes().routes,
  ];
  const served = new Map<string, Set<string>>();
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, "{$1}");
    if (!served.has(path)) served.set(path, new Set());
    served.get(path)!.add(route.method);
  }
  const docs = documented();
  assert.ok(docs.size > 0, "no paths found in the document");
  for (const [path, methods] of served) {
    assert.ok(docs.has(path), `${path} is served but not documented`);
    assert.deepEqual(docs.get(path), methods, `methods of ${path}`);
  }
  for (const path of docs.keys()) assert.ok(served.has(path), `${path} is documented, not served`);
});

Deno.test("the document is OpenAPI 3.1 with both servers and every error schema", () => {
  assert.match(spec, /^openapi: 3\.1\.0$/m);
  assert.match(spec, /url: http:\/\/localhost:3000/);
  assert.match(spec, /url: http:\/\/localhost:3001/);
  assert.match(spec, /^ {4}Error:$/m);
});
