/**
 * `AUTH_TOKENS_FILE`: the access tokens the service accepts, one per line, as the SHA-256 digest
 * of the token (64 hex digits) followed by its scopes (see `scope.ts`):
 *
 * ```text
 * # orders service
 * 3f0c…9a1e next:orders,invoices
 * 77b2…04cd next:*            # batch jobs
 * c1d9…e330 admin
 * ```
 *
 * `#` starts a comment; blank lines are skipped. A file that breaks a rule is refused whole, with
 * one message naming the file, the line and the rule; messages never quote what the file holds
 * (a token pasted in by mistake is not echoed into a log).
 *
 * @module
 */
import { errorText } from "../domain/domain.ts";
import { parseScopes, ScopeError, type Scopes } from "./scope.ts";

/** One accepted token: the digest of the token and what it may do. */
export interface TokenEntry {
  /** SHA-256 of the token (32 bytes). */
  digest: Uint8Array;
  /** Its scopes. */
  scopes: Scopes;
  /** Its line in the file (1-based), for messages. */
  line: number;
}

/** The tokens in force: plain data, so it crosses to the API worker threads as it is. */
export type TokenTable = readonly TokenEntry[];

/** Most tokens a file may hold: every request compares its digest with each of them. */
export const TOKENS_MAX = 1000;

const DIGEST = /^[0-9a-fA-F]{64}$/;

/** The token file cannot be used; the message names the file, the line and the rule. */
export class TokenFileError extends Error {
  /** @param message one line: `AUTH_TOKENS_FILE=<file> line <n>: <rule>`. */
  constructor(message: string) {
    super(message);
    this.name = "TokenFileError";
  }
}

/** Options of {@link parseTokenFile}. */
export interface TokenFileOptions {
  /** The file's path, for messages. */
  file: string;
}

/**
 * Reads the text of a token file.
 * @throws {TokenFileError} naming the file, the line and the rule it breaks.
 */
export function parseTokenFile(text: string, options: TokenFileOptions): TokenEntry[] {
  const at = (line: number) => `AUTH_TOKENS_FILE=${options.file} line ${line}`;
  const entries: TokenEntry[] = [];
  const seen = new Map<string, number>();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = index + 1;
    const hash = raw.indexOf("#");
    const words = (hash < 0 ? raw : raw.slice(0, hash)).trim().split(/\s+/).filter((w) => w);
    if (words.length === 0) continue;
    const [digest, ...scopeWords] = words;
    if (!DIGEST.test(digest)) {
      throw new TokenFileError(
        `${at(line)}: the first word is not a SHA-256 digest (64 hex digits): the file holds ` +
          `the digest of each token, never the token; \`deno task token\` prints the line to add`,
      );
    }
    let scopes: Scopes;
    try {
      scopes = parseScopes(scopeWords);
    } catch (error) {
      if (!(error instanceof ScopeError)) throw error;
      throw new TokenFileError(`${at(line)}: ${error.message}`);
    }
    const key = digest.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      throw new TokenFileError(
        `${at(line)}: the same token as line ${first}: give each token once, with all its scopes`,
      );
    }
    seen.set(key, line);
    if (entries.length === TOKENS_MAX) {
      throw new TokenFileError(
        `${at(line)}: more than ${TOKENS_MAX} tokens: at most ${TOKENS_MAX}`,
      );
    }
    entries.push({ digest: fromHex(key), scopes, line });
  }
  return entries;
}

/**
 * Reads and parses the token file at `path`.
 * @throws {TokenFileError} when it cannot be read or breaks a rule.
 */
export async function readTokenFile(path: string): Promise<TokenEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TokenFileError(`AUTH_TOKENS_FILE=${path} cannot be read: ${errorText(error)}`);
  }
  return parseTokenFile(text, { file: path });
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
