/**
 * Requests made with an `Idempotency-Key` (IETF httpapi draft): the first answer is stored durably
 * before it is sent, and a retry with the same key and the same request gets exactly that answer
 * again, with `Idempotency-Replayed: true`. Answers worth replaying are 2xx and 4xx (not 408 or
 * 429); after a 5xx nothing was handed out and the key is free for the retry.
 *
 * @module
 */
import { errorAnswer } from "../../http/respond.ts";
import { invalid, type KeyedAnswer, type KeyedAnswers } from "../../domain/domain.ts";
import { JSON_CONTENT_TYPE } from "../../http/respond.ts";

/** The request header. */
export const IDEMPOTENCY_HEADER = "idempotency-key";

const SF_STRING = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/;
const TOKEN = /^[\x21\x23-\x7E]+$/;
/** Longest key accepted (characters). */
export const KEY_MAX = 255;

/**
 * The key of an `Idempotency-Key` header value: a structured-field string (`"…"`, the draft's
 * form) or, leniently, a bare token; 1 to 255 printable ASCII characters.
 * @throws {SequencerError} `invalid` naming the rule.
 */
export function parseIdempotencyKey(raw: string): string {
  const quoted = SF_STRING.exec(raw);
  const key = quoted !== null ? quoted[1].replace(/\\(["\\])/g, "$1") : TOKEN.test(raw) ? raw : "";
  if (key === "" || key.length > KEY_MAX) {
    throw invalid(
      `header Idempotency-Key is invalid: must be a quoted string (or a token) of 1 to ` +
        `${KEY_MAX} printable ASCII characters, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"`,
    );
  }
  return key;
}

function replay(answer: KeyedAnswer): Response {
  return new Response(answer.body, {
    status: answer.status,
    headers: {
      "content-type": JSON_CONTENT_TYPE,
      "cache-control": "no-store",
      "idempotency-replayed": "true",
    },
  });
}

function storable(status: number): boolean {
  return status < 500 && status !== 408 && status !== 429;
}

/**
 * Answers a keyed request: `answer` runs only for a new key, and what it answers is stored
 * before it is sent. `fingerprint` identifies the request (method, path, parameters, body).
 */
export async function answerKeyed(
  book: KeyedAnswers,
  request: { key: string; fingerprint: string },
  answer: () => Response | Promise<Response>,
): Promise<Response> {
  const { key, fingerprint } = request;
  const begun = await book.beginKeyed(key, fingerprint);
  if (begun.state === "answered") return replay(begun.answer);
  let response: Response;
  try {
    response = await answer();
  } catch (error) {
    const known = errorAnswer(error);
    if (known === undefined) {
      await book.finishKeyed(key, fingerprint);
      throw error;
    }
    response = known;
  }
  if (!storable(response.status)) {
    await book.finishKeyed(key, fingerprint);
    return response;
  }
  const body = await response.text();
  const stored = await book.finishKeyed(key, fingerprint, { status: response.status, body });
  if (stored !== undefined && stored.body !== body) return replay(stored);
  return new Response(body, { status: response.status, headers: response.headers });
}
