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
 * The presented token is hashed (SHA-256) and its digest compared with every stored digest in
 * constant time: all eight 32-bit words of every digest are XORed together, with no early exit,
 * so the time taken does not tell how much of a guess was right, only how many tokens there are.
 * (`node:crypto`'s `createHash` and `timingSafeEqual` cost about 3.2 µs and 1 µs per call on Deno
 * 2.9, measured; the hash in `sha256.ts` and this loop cost about 0.5 µs and 0.02 µs per stored
 * digest.) The header is read through the runtime's single-header lookup. No answer and no log
 * line ever contains a token.
 *
 * @module
 */
import { createHeaderReader } from "../http/headers.ts";
import type { Access, Guard, Params } from "../http/router.ts";
import { jsonError } from "../http/respond.ts";
import { allows, neededScopes, type Scopes } from "./scope.ts";
import { createSha256 } from "./sha256.ts";
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

/** The digests of a table as big-endian 32-bit words, eight per token, in one array. */
function digestWords(table: TokenTable): Int32Array {
  const words = new Int32Array(table.length * 8);
  table.forEach((entry, i) => {
    const view = new DataView(entry.digest.buffer, entry.digest.byteOffset, 32);
    for (let j = 0; j < 8; j++) words[i * 8 + j] = view.getInt32(j * 4);
  });
  return words;
}

/** Access control over `table`; {@link AccessControl.replace} swaps the table in place. */
export function createAccessControl(table: TokenTable): AccessControl {
  let tokens = table;
  let words = digestWords(table);
  const sha256 = createSha256();
  const digest = new Int32Array(8);
  const header = createHeaderReader();

  /** The scopes of `token`, after comparing its digest with every stored one. */
  function lookup(token: string): Scopes | undefined {
    sha256(token, digest);
    const [d0, d1, d2, d3, d4, d5, d6, d7] = digest;
    let found = -1;
    for (let i = 0, o = 0; o < words.length; i++, o += 8) {
      const diff = (words[o] ^ d0) | (words[o + 1] ^ d1) | (words[o + 2] ^ d2) |
        (words[o + 3] ^ d3) | (words[o + 4] ^ d4) | (words[o + 5] ^ d5) | (words[o + 6] ^ d6) |
        (words[o + 7] ^ d7);
      found = diff === 0 ? i : found;
    }
    return found < 0 ? undefined : tokens[found].scopes;
  }

  const guard: Guard = (req, access, params) => {
    if (access === "open") return undefined;
    const authorization = header(req, "authorization");
    if (authorization === null) {
      return unauthorized(
        "this request needs an access token: send Authorization: Bearer <token>",
        false,
      );
    }
    const token = BEARER.exec(authorization)?.[1];
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
      words = digestWords(table);
      tokens = table;
    },
    get size() {
      return tokens.length;
    },
  };
}
