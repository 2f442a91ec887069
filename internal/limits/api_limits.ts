/**
 * Limits that keep one client from starving the others, applied to the API's routes:
 *
 * - **creating sequences**: `PUT /v1/sequences/{name}` per client (its access token when tokens
 *   are on, else its address), so one client cannot fill the sequence table or the store;
 * - **numbers in batches**: the numbers of `?count=N` requests per sequence per second, so one
 *   client burning a sequence with huge batches cannot take the store's commits from the others.
 *   Single numbers are never limited.
 *
 * A refused request gets `429` JSON (`rate_limited`) with `Retry-After` and consumes nothing. The
 * limits are per process; each API thread enforces its share.
 *
 * @module
 */
import { DEFAULT_SEQUENCE, SequencerError } from "../domain/domain.ts";
import type { Handler, RequestContext, Route } from "../http/router.ts";
import { createRateLimit, type RateLimit } from "./rate_limit.ts";
import { toHex, tokenDigest } from "../auth/token.ts";

/** The limits of one API thread. */
export interface ApiLimits {
  /** Sequences one client may create per second, and in a burst. */
  createPerSec: number;
  createBurst: number;
  /** Numbers handed out in batches per sequence per second (also the largest burst). */
  batchNumbersPerSec: number;
}

const COUNT = /(?:^|&)count=([1-9][0-9]{0,15})(?:&|$)/;

function refuse(what: string, waitMs: number): never {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  throw new SequencerError("rate_limited", `${what}; retry after ${seconds} s`, {
    details: { retryAfterSec: seconds },
  });
}

/** `routes` with the limits of `limits` in front of the routes they apply to. */
export function withApiLimits(routes: Route[], limits: ApiLimits): Route[] {
  const creations = createRateLimit({
    ratePerSec: limits.createPerSec,
    burst: limits.createBurst,
  });
  const batches = createRateLimit({
    ratePerSec: limits.batchNumbersPerSec,
    burst: limits.batchNumbersPerSec,
  });
  return routes.map((route) => {
    if (route.method === "PUT" && route.path === "/v1/sequences/:name") {
      return { ...route, handler: limitCreations(route.handler, creations) };
    }
    if (
      route.method === "GET" && route.path.startsWith("/v1/sequence") &&
      !route.path.startsWith("/v1/sequences")
    ) {
      return { ...route, handler: limitBatches(route.handler, batches) };
    }
    return route;
  });
}

function limitCreations(handler: Handler, limit: RateLimit): Handler {
  return (req, ctx) => {
    const token = req.headers.get("authorization");
    // A token is kept only as its digest, never in plain text.
    const client = token === null ? `address ${ctx.peer}` : `token ${toHex(tokenDigest(token))}`;
    const wait = limit.take(client);
    if (wait > 0) {
      refuse(
        `this client creates sequences faster than CREATE_RATE_PER_SEC allows (bursts of ` +
          `CREATE_BURST)`,
        wait,
      );
    }
    return handler(req, ctx);
  };
}

function limitBatches(handler: Handler, limit: RateLimit): Handler {
  return (req, ctx: RequestContext) => {
    if (ctx.query === "") return handler(req, ctx);
    const count = COUNT.exec(ctx.query);
    if (count === null || count[1] === "1") return handler(req, ctx);
    const sequence = ctx.params.name ?? DEFAULT_SEQUENCE;
    const wait = limit.take(sequence, Number(count[1]));
    if (wait > 0) {
      refuse(
        `batches of sequence ${JSON.stringify(sequence.slice(0, 64))} ask for more numbers per ` +
          `second than this process hands out in batches`,
        wait,
      );
    }
    return handler(req, ctx);
  };
}
