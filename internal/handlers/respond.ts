/**
 * The one JSON response helper every handler uses.
 *
 * Bigints are written as exact JSON numbers (never rounded through `number`).
 *
 * @module
 */

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJSON(value.toString()) : value;
}

/** Serializes `body` as JSON, writing bigints as exact digits. */
export function toJson(body: unknown): string {
  return JSON.stringify(body, replacer);
}

/** The JSON content type every JSON answer carries. */
export const JSON_CONTENT_TYPE = "application/json";

/** A JSON response with the given status and extra headers. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(toJson(body), {
    status,
    headers: { "content-type": JSON_CONTENT_TYPE, ...headers },
  });
}

/** An error response: `{"status":"error","error":message}`. */
export function jsonError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return json(status, { status: "error", error: message }, headers);
}
