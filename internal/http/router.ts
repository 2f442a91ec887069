/**
 * The one router. The path is cut from the raw request URL without parsing a `URL`; literal paths
 * are looked up in a map and `:name` segments are matched segment by segment. A known path with
 * another method answers `405` with `Allow`; an unknown path `404`; a handler that throws or
 * rejects with a `SequencerError` gets that error's answer, anything else a logged `500`. A request
 * whose URL cannot be built (an invalid `Host`) is a `400`. Every error answer is JSON.
 *
 * Every route says who may call it ({@link Access}); a router given a {@link Guard} asks it before
 * each handler (after the `404`/`405` checks), and a router without one (access tokens off) costs
 * nothing more than one branch.
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
  /** The client's address (the connection's peer), for per-client limits; `""` when unknown. */
  peer: string;
}

/** What the server calls: the router, as built by {@link createRouter}; `peer` is the client's address. */
export type RequestHandler = (req: Request, peer?: string) => Response | Promise<Response>;

/** Answers one request. */
export type Handler = (req: Request, ctx: RequestContext) => Response | Promise<Response>;

/** The sequence a route works on: the value of a path parameter, or a fixed name. */
export type SequenceOf = { param: string } | { name: string };

/**
 * Who may call a route when access tokens are on (with them off, anyone may):
 * - `"open"`: anyone, always (probes and scrapers);
 * - `"admin"`: a token with the `admin` scope;
 * - `{ next: … }`: the route hands out or shows numbers of one sequence: a token with
 *   `next:<that sequence>`, `next:*` or `admin`.
 */
export type Access = "open" | "admin" | { next: SequenceOf };

/**
 * Decides whether a request may reach its route: `undefined` lets it through, a response (401,
 * 403) is the answer instead. Called after the route matched, before its handler.
 */
export type Guard = (req: Request, access: Access, params: Params) => Response | undefined;

/** One route: a method, a path (`/v1/sequence/:name` style), who may call it, and its handler. */
export interface Route {
  /** HTTP method, upper case. */
  method: string;
  /** Path: literal, or with `:name` segments. */
  path: string;
  /** Who may call it when access tokens are on. */
  access: Access;
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
  methods: Map<string, Route>;
  allow: string;
}

interface PatternEntry extends PathEntry {
  /** Literal segments, or `undefined` where a parameter goes. */
  segments: (string | undefined)[];
  names: string[];
}

const NO_PARAMS: Params = Object.freeze({}) as Params;

/** `access` is one of the {@link Access} forms. */
function validAccess(access: unknown): boolean {
  if (access === "open" || access === "admin") return true;
  if (typeof access !== "object" || access === null || !("next" in access)) return false;
  const of = (access as { next: unknown }).next as Record<string, unknown> | null;
  return typeof of?.param === "string" || typeof of?.name === "string";
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  /** Where handler failures are logged. */
  logger?: Logger;
  /** Asked before every handler (access tokens on); absent: every route is open. */
  guard?: Guard;
}

/**
 * Builds a request handler from a list of routes.
 * @throws when a route is defined twice or does not say who may call it.
 */
export function createRouter(
  routes: readonly Route[],
  options: RouterOptions = {},
): RequestHandler {
  const { guard } = options;
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
    if (!validAccess(route.access)) {
      throw new Error(`route ${route.method} ${route.path} does not say who may call it (access)`);
    }
    entry.methods.set(route.method, route);
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

  const invoke = (
    req: Request,
    route: Route,
    params: Params,
    ctx: RequestContext,
  ): Response | Promise<Response> => {
    if (guard !== undefined) {
      const refused = guard(req, route.access, params);
      if (refused !== undefined) return refused;
    }
    try {
      const answer = route.handler(req, ctx);
      return answer instanceof Response ? answer : answer.then(undefined, failed(req, ctx.path));
    } catch (error) {
      return failed(req, ctx.path)(error);
    }
  };

  // The last request's URL and method, and what they were routed to: clients repeat the same
  // request again and again, and the URL string settles the host, path and query at once.
  let last:
    | { url: string; method: string; route: Route; path: string; query: string; params: Params }
    | undefined;

  return (req: Request, peer = ""): Response | Promise<Response> => {
    let raw: string;
    try {
      raw = req.url;
    } catch {
      return badHost();
    }
    if (last !== undefined && raw === last.url && req.method === last.method) {
      const { path, query, params } = last;
      return invoke(req, last.route, params, { path, query, params, peer });
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
    const route = found.entry.methods.get(req.method);
    if (route === undefined) {
      const { allow } = found.entry;
      return jsonError(
        "method_not_allowed",
        `method ${quoted(req.method)} is not allowed on ${quoted(path)}: allowed ${allow}`,
        { headers: { allow } },
      );
    }
    const query = mark < 0 ? "" : raw.slice(mark + 1);
    const params = Object.freeze(found.params);
    last = { url: raw, method: req.method, route, path, query, params };
    return invoke(req, route, params, { path, query, params, peer });
  };
}
