/**
 * `deno task token <scope>...`: prints a new access token and the line of `AUTH_TOKENS_FILE` that
 * accepts it. Needs no permission: the token comes from the system's random source and is stored
 * nowhere.
 *
 * ```sh
 * deno task token next:orders,invoices
 * # stdout, line 1: the token, for the client (shown once)
 * # stdout, line 2: "<sha-256 hex> next:invoices,orders", to append to AUTH_TOKENS_FILE
 * ```
 *
 * @module
 */
import { parseScopes, ScopeError } from "../../internal/auth/scope.ts";
import { newToken, tokenLine } from "../../internal/auth/token.ts";

const USAGE = `usage: deno task token <scope>...
  scopes: admin, next:*, next:<name>[,<name>...]
  prints a new token (line 1, for the client) and the line to add to AUTH_TOKENS_FILE (line 2)`;

if (Deno.args.length === 0 || Deno.args.some((a) => a === "-h" || a === "--help")) {
  console.error(USAGE);
  Deno.exit(Deno.args.length === 0 ? 2 : 0);
}

let scopes;
try {
  scopes = parseScopes(Deno.args);
} catch (error) {
  if (!(error instanceof ScopeError)) throw error;
  console.error(`token: ${error.message}\n${USAGE}`);
  Deno.exit(2);
}

const token = newToken();
console.log(token);
console.log(tokenLine(token, scopes));
console.error(
  "token: line 1 is the token: give it to the client (it is stored nowhere and not shown again).\n" +
    "token: append line 2 to AUTH_TOKENS_FILE, then send SIGHUP to the service " +
    "(kill -HUP <pid>) to put it in force without a restart.",
);
