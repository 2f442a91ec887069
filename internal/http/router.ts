/**
 * The one router. The path is cut from the raw request URL without parsing a `URL`; literal paths
 * are looked up in a map and `:name` segments are matched segment by segment. A known path with
 * another method answers `405` with `Allow`; an unknown path `404`; a handler that throws or
 * rejects with a `SequencerError` gets that error's answer, anything else a logged `500`. A request
 * whose URL cannot be built (an invalid `Host`) is a `400`. Every error answer is JSON.
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { errorAnswer, jsonError } from "./respond.ts";

/** Path parameters of a matched route, by name (raw, still percent-encoded). */
export type Params = Record<string, string>;

/** What the router found out about a request before calling its handler. */
export interface RequestContext {
  /** The path, e.g. `/v1/sequence/orders`. */
  path: string;
  /** The raw query string without `?` (`""` when there is none). */
  query: string;
  /** The path parameters. */
  params: Params;
}

/** What `Deno.serve` calls: the router, as built by {@link createRouter}. */
export type RequestHandler = (req: Request) => Response | Promise<Response>;

/** Answers one request. */
export type Handler = (req: Request, ctx: RequestContext) => Response | Promise<Response>;

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
}

/** `text` as a JSON string, cut to 200 characters: an answer never echoes a huge input whole. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 200 ? text.slice(0, 200) + "…" : text);
}

/** The query parameters of a request (parsed only when a handler asks). */
export function searchParams(ctx: RequestContext): URLSearchParams {
  return new URLSearchParams(ctx.query);
}

interface PathEntry {
  methods: Map<string, Handler>;
  allow: string;
}

interface PatternEntry extends PathEntry {
  /** Literal segments, or `undefined` where a parameter goes. */
  segments: (string | undefined)[];
  names: string[];
}

const NO_PARAMS: Params = Object.freeze({}) as Params;

/** Builds a request handler from a list of routes. */
export function createRouter(
  routes: readonly Route[],
  options: { logger?: Logger } = {},
): RequestHandler {
  const exact = new Map<string, PathEntry>();
  const patterned: PatternEntry[] = [];
  const byPath = new Map<string, PathEntry>();
  for (const route of routes) {
    let entry = byPath.get(route.path);
    if (entry === undefined) {
      if (route.path.includes("/:")) {
        const parts = route.path.split("/");
        const pattern: PatternEntry = {
          methods: new Map(),
          allow: "",
          segments: parts.map((p) => (p.startsWith(":") ? undefined : p)),
          names: parts.filter((p) => p.startsWith(":")).map((p) => p.slice(1)),
        };
        patterned.push(pattern);
        entry = pattern;
      } else {
        entry = { methods: new Map(), allow: "" };
        exact.set(route.path, entry);
      }
      byPath.set(route.path, entry);
    }
    if (entry.methods.has(route.method)) {
      throw new Error(`route ${route.method} ${route.path} is defined twice`);
    }
    entry.methods.set(route.method, route.handler);
    entry.allow = [...entry.methods.keys()].join(", ");
  }

  const failed = (req: Request, path: string) => (error: unknown): Response => {
    const known = errorAnswer(error);
    if (known !== undefined) return known;
    options.logger?.error("handler failed", { method: req.method, path, error });
    return jsonError("internal", "internal error: the request could not be handled");
  };

  function match(path: string): { entry: PathEntry; params: Params } | undefined {
    const found = exact.get(path);
    if (found !== undefined) return { entry: found, params: NO_PARAMS };
    if (patterned.length === 0) return undefined;
    const parts = path.split("/");
    for (const candidate of patterned) {
      const { segments } = candidate;
      if (segments.length !== parts.length) continue;
      const values: string[] = [];
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const literal = segments[i];
        if (literal === undefined) {
          if (parts[i] === "") ok = false;
          else values.push(parts[i]);
        } else if (literal !== parts[i]) ok = false;
      }
      if (!ok) continue;
      const params: Params = {};
      candidate.names.forEach((name, i) => (params[name] = values[i]));
      return { entry: candidate, params };
    }
    return undefined;
  }

  // The last Host that was checked and valid: clients send the same one again and again.
  let goodHost = "";
  const badHost = () =>
    jsonError("invalid", "the request's Host header is invalid: must be a host name or address");

  return (req: Request): Response | Promise<Response> => {
    let raw: string;
    try {
      raw = req.url;
    } catch {
      return badHost();
    }
    const hostStart = raw.indexOf("//") + 2;
    const start = raw.indexOf("/", hostStart);
    const host = start < 0 ? raw.slice(hostStart) : raw.slice(hostStart, start);
    if (host !== goodHost) {
      if (!URL.canParse(`http://${host}/`)) return badHost();
      goodHost = host;
    }
    const mark = raw.indexOf("?", start);
    let path = start < 0 ? "/" : mark < 0 ? raw.slice(start) : raw.slice(start, mark);
    // Dot segments are resolved the way a URL parser does.
    if (path.includes("/.")) path = new URL("http://h" + path).pathname;
    const found = match(path);
    if (found === undefined) {
      return jsonError("no_route", `no route for path ${quoted(path)}`);
    }
    const handler = found.entry.methods.get(req.method);
    if (handler === undefined) {
      const { allow } = found.entry;
      return jsonError(
        "method_not_allowed",
        `method ${quoted(req.method)} is not allowed on ${quoted(path)}: allowed ${allow}`,
        { headers: { allow } },
      );
    }
    const ctx: RequestContext = {
      path,
      query: mark < 0 ? "" : raw.slice(mark + 1),
      params: found.params,
    };
    try {
      const answer = handler(req, ctx);
      return answer instanceof Response ? answer : answer.then(undefined, failed(req, path));
    } catch (error) {
      return failed(req, path)(error);
    }
  };
}
