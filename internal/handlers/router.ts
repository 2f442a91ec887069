/**
 * The one router: exact paths are looked up in a map, parameterised paths are matched with
 * `URLPattern`. A known path with another method answers `405` with `Allow`; an unknown path
 * answers `404`; a handler that throws answers `500`. Every error answer is JSON.
 *
 * @module
 */
import { jsonError } from "./respond.ts";
import type { Logger } from "../log/log.ts";

/** Path parameters of a matched route, by name. */
export type Params = Record<string, string>;

/** What `Deno.serve` calls: the router, as built by {@link createRouter}. */
export type RequestHandler = (req: Request) => Response | Promise<Response>;

/** Answers one request. `url` is parsed once by the router. */
export type Handler = (req: Request, url: URL, params: Params) => Response | Promise<Response>;

/** One route: a method, a path (`/v1/sequence/:name` style) and its handler. */
export interface Route {
  /** HTTP method, upper case. */
  method: string;
  /** Path: literal, or with `:name` segments. */
  path: string;
  /** The handler. */
  handler: Handler;
  /** One line for the docs and the debug index. */
  summary?: string;
  /**
   * Optional fast path for hot exact routes: called with the raw query string (`""` or `?…`)
   * before the URL is parsed; returning `undefined` falls through to `handler`.
   */
  fast?: (req: Request, search: string) => Response | undefined;
}

interface PathEntry {
  pattern: URLPattern | undefined;
  methods: Map<string, Handler>;
  fast: Map<string, NonNullable<Route["fast"]>>;
  allow: string;
}

/** Builds a request handler from a list of routes. */
export function createRouter(
  routes: readonly Route[],
  logger?: Logger,
): RequestHandler {
  const exact = new Map<string, PathEntry>();
  const patterned: PathEntry[] = [];
  const byPath = new Map<string, PathEntry>();
  for (const route of routes) {
    let entry = byPath.get(route.path);
    if (entry === undefined) {
      const dynamic = route.path.includes(":") || route.path.includes("*");
      entry = {
        pattern: dynamic ? new URLPattern({ pathname: route.path }) : undefined,
        methods: new Map(),
        fast: new Map(),
        allow: "",
      };
      byPath.set(route.path, entry);
      if (dynamic) patterned.push(entry);
      else exact.set(route.path, entry);
    }
    if (entry.methods.has(route.method)) {
      throw new Error(`route ${route.method} ${route.path} is defined twice`);
    }
    entry.methods.set(route.method, route.handler);
    if (route.fast !== undefined) entry.fast.set(route.method, route.fast);
    entry.allow = [...entry.methods.keys()].join(", ");
  }

  const route = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    let entry = exact.get(url.pathname);
    let params: Params = {};
    if (entry === undefined) {
      for (const candidate of patterned) {
        const match = candidate.pattern!.exec({ pathname: url.pathname });
        if (match !== null) {
          entry = candidate;
          params = match.pathname.groups as Params;
          break;
        }
      }
    }
    if (entry === undefined) {
      return jsonError(404, `no route for path ${JSON.stringify(url.pathname)}`);
    }
    const handler = entry.methods.get(req.method);
    if (handler === undefined) {
      return jsonError(
        405,
        `method ${req.method} is not allowed on ${url.pathname}: allowed ${entry.allow}`,
        { allow: entry.allow },
      );
    }
    try {
      return await handler(req, url, params);
    } catch (error) {
      logger?.error("handler failed", { method: req.method, path: url.pathname, error });
      return jsonError(500, "internal error: the request could not be handled");
    }
  };

  // The hot path: the raw path of the request string is looked up without parsing a URL. Only an
  // exact match of a registered literal path is taken; anything unusual (percent-escapes, dot
  // segments) does not match and goes through the full parse below.
  return (req: Request): Response | Promise<Response> => {
    const raw = req.url;
    const start = raw.indexOf("/", raw.indexOf("//") + 2);
    const query = raw.indexOf("?", start);
    const path = query < 0 ? raw.slice(start) : raw.slice(start, query);
    const fast = exact.get(path)?.fast.get(req.method);
    if (fast !== undefined && !path.includes("#")) {
      const response = fast(req, query < 0 ? "" : raw.slice(query));
      if (response !== undefined) return response;
    }
    return route(req);
  };
}
