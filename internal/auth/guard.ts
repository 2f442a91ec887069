/**
 * The router's {@link Guard} when access tokens are on: reads `Authorization: Bearer <token>`,
 * finds the token by its SHA-256 digest, and checks the route's {@link Access} against the token's
 * scopes.
 *
 * - no token, a header that is not a bearer token, or an unknown token: `401` (`unauthorized`)
 *   with `WWW-Authenticate: Bearer`;
 * - a known token whose scopes do not allow the route: `403` (`forbidden`), naming the scope that
 *   would.
 *
 * The presented token is hashed and its digest compared with every stored digest in constant
 * time (`timingSafeEqual`, never an early exit), so the time taken does not tell how much of a
 * guess was right. No answer and no log line ever contains a token.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { Access, Guard, Params } from "../http/router.ts";
import { jsonError } from "../http/respond.ts";
import { allows, neededScopes, type Scopes } from "./scope.ts";
import { tokenDigest } from "./token.ts";
import type { TokenTable } from "./token_file.ts";

/** The access tokens in force, replaceable while the service runs (on SIGHUP). */
export interface AccessControl {
  /** The guard for `createRouter`. */
  readonly guard: Guard;
  /** Puts `table` in force for every request from now on. */
  replace(table: TokenTable): void;
  /** How many tokens are in force. */
  readonly size: number;
}

/** Longest token looked up (characters); longer ones are unknown without being hashed. */
export const TOKEN_LENGTH_MAX = 512;

const BEARER = /^bearer +([^\s]+) *$/i;
const REALM = 'Bearer realm="sequencer"';

function unauthorized(message: string, invalidToken: boolean): Response {
  return jsonError("unauthorized", message, {
    headers: {
      "www-authenticate": invalidToken ? `${REALM}, error="invalid_token"` : REALM,
    },
  });
}

/** The sequence a `next` route is about, decoded as the handler decodes it. */
function sequenceOf(access: Access, params: Params): string | undefined {
  if (typeof access !== "object") return undefined;
  const of = access.next;
  if ("name" in of) return of.name;
  try {
    return decodeURIComponent(params[of.param] ?? "");
  } catch {
    return undefined; // the handler answers 400 to a name like that, but only after this check
  }
}

function forbidden(req: Request, access: Access, sequence: string | undefined): Response {
  const needed = neededScopes(access, sequence);
  const what = access === "admin"
    ? `${req.method} on this path`
    : sequence === undefined
    ? "this sequence"
    : `sequence ${JSON.stringify(sequence.length > 80 ? sequence.slice(0, 80) + "…" : sequence)}`;
  const scope = access === "admin"
    ? "admin"
    : sequence === undefined
    ? "next:*"
    : `next:${sequence}`;
  return jsonError(
    "forbidden",
    `the access token's scopes do not allow ${what}: it needs ${needed}`,
    {
      details: { needed },
      headers: {
        "www-authenticate": `${REALM}, error="insufficient_scope", scope="${
          scope.replace(/["\\]/g, "")
        }"`,
      },
    },
  );
}

/** Access control over `table`; {@link AccessControl.replace} swaps the table in place. */
export function createAccessControl(table: TokenTable): AccessControl {
  let tokens = table;

  /** The scopes of `token`, after comparing its digest with every stored one. */
  function lookup(token: string): Scopes | undefined {
    const digest = tokenDigest(token);
    let found: Scopes | undefined;
    for (const entry of tokens) {
      if (timingSafeEqual(digest, entry.digest)) found = entry.scopes;
    }
    return found;
  }

  const guard: Guard = (req, access, params) => {
    if (access === "open") return undefined;
    const header = req.headers.get("authorization");
    if (header === null) {
      return unauthorized(
        "this request needs an access token: send Authorization: Bearer <token>",
        false,
      );
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      return unauthorized(
        "the Authorization header is not a bearer token: send Authorization: Bearer <token>",
        true,
      );
    }
    const scopes = token.length > TOKEN_LENGTH_MAX ? undefined : lookup(token);
    if (scopes === undefined) {
      return unauthorized(
        "the access token is not known (wrong, or revoked): send a token listed in AUTH_TOKENS_FILE",
        true,
      );
    }
    const sequence = sequenceOf(access, params);
    return allows(scopes, access, sequence) ? undefined : forbidden(req, access, sequence);
  };

  return {
    guard,
    replace(table) {
      tokens = table;
    },
    get size() {
      return tokens.length;
    },
  };
}
