/**
 * Access tokens: a new random token, and the SHA-256 digest that `AUTH_TOKENS_FILE` stores in its
 * place (the file never holds a token, so reading it does not give one away).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { formatScopes, type Scopes } from "./scope.ts";

/** Random bytes in a new token (256 bits). */
export const TOKEN_BYTES = 32;

/** A new token: {@link TOKEN_BYTES} random bytes from the system's CSPRNG, base64url. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** The SHA-256 digest of a token as presented (its UTF-8 bytes). Synchronous. */
export function tokenDigest(token: string): Uint8Array {
  return createHash("sha256").update(token).digest();
}

/** Bytes as lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The line of `AUTH_TOKENS_FILE` for `token` with `scopes`: its digest in hex, then the scopes. */
export function tokenLine(token: string, scopes: Scopes): string {
  return `${toHex(tokenDigest(token))} ${formatScopes(scopes)}`;
}
