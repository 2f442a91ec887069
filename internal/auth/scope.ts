/**
 * What an access token may do, and the grammar of its scopes in `AUTH_TOKENS_FILE`:
 *
 * - `admin`: everything (create, change, retire and list sequences; profiles and traces);
 * - `next:*`: numbers of every sequence, and reading any one of them;
 * - `next:<name>[,<name>…]`: numbers of the named sequences, and reading them.
 *
 * A token has one or more scope words; `next:a next:b` is `next:a,b`. Pure: no I/O.
 *
 * @module
 */
import { SEQUENCE_NAME, SEQUENCE_NAME_RULE } from "../domain/domain.ts";
import type { Access } from "../http/router.ts";

/** The scopes of one token. */
export interface Scopes {
  /** `admin`: everything. */
  admin: boolean;
  /** `next:*`: numbers of every sequence. */
  allSequences: boolean;
  /** `next:<name>`: numbers of these sequences (sorted, without repeats). */
  sequences: string[];
}

/** The grammar, for error messages. */
export const SCOPE_RULE = "a scope is admin, next:* or next:<name>[,<name>...] " +
  `(a name ${SEQUENCE_NAME_RULE})`;

/** A scope word broke {@link SCOPE_RULE}; the message says how, without quoting the word. */
export class ScopeError extends Error {
  /** @param message what is wrong with the word, and the rule. */
  constructor(message: string) {
    super(message);
    this.name = "ScopeError";
  }
}

/**
 * Reads scope words (`admin`, `next:*`, `next:orders,invoices`) into {@link Scopes}.
 * @throws {ScopeError} when there is no word or a word breaks {@link SCOPE_RULE}. Messages never
 * quote the word: a token pasted by mistake where a scope goes is not echoed into a log.
 */
export function parseScopes(words: readonly string[]): Scopes {
  if (words.length === 0) throw new ScopeError(`no scope given: ${SCOPE_RULE}`);
  const scopes: Scopes = { admin: false, allSequences: false, sequences: [] };
  const names = new Set<string>();
  for (const [i, word] of words.entries()) {
    const which = words.length === 1 ? "the scope" : `scope ${i + 1}`;
    if (word === "admin") {
      scopes.admin = true;
      continue;
    }
    if (!word.startsWith("next:")) {
      throw new ScopeError(`${which} is neither admin nor next:…: ${SCOPE_RULE}`);
    }
    const list = word.slice("next:".length);
    if (list === "*") {
      scopes.allSequences = true;
      continue;
    }
    for (const name of list.split(",")) {
      if (name === "*") {
        throw new ScopeError(`${which} mixes * with names: next:* stands alone; ${SCOPE_RULE}`);
      }
      if (!SEQUENCE_NAME.test(name)) {
        throw new ScopeError(`${which} has an invalid sequence name: ${SCOPE_RULE}`);
      }
      names.add(name);
    }
  }
  scopes.sequences = [...names].sort();
  return scopes;
}

/** The scopes as the words of a token line (`admin`, `next:*`, `next:a,b`), shortest form. */
export function formatScopes(scopes: Scopes): string {
  const words: string[] = [];
  if (scopes.admin) words.push("admin");
  if (scopes.allSequences) words.push("next:*");
  else if (scopes.sequences.length > 0) words.push(`next:${scopes.sequences.join(",")}`);
  return words.join(" ");
}

/**
 * Whether `scopes` allow a route of `access` on `sequence` (the decoded sequence name, for a
 * `next` route; `undefined` when it cannot be decoded: only `next:*` and `admin` allow that).
 */
export function allows(scopes: Scopes, access: Access, sequence?: string): boolean {
  if (access === "open" || scopes.admin) return true;
  if (access === "admin") return false;
  if (scopes.allSequences) return true;
  return sequence !== undefined && scopes.sequences.includes(sequence);
}

/** The scopes that would allow `access` on `sequence`, for a 403's message. */
export function neededScopes(access: Access, sequence?: string): string {
  if (access === "open") return "none";
  if (access === "admin") return "admin";
  return sequence === undefined ? "next:* or admin" : `next:${sequence}, next:* or admin`;
}
