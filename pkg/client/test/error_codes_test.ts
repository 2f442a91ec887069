/**
 * The server's error codes and the client's are one wire contract written down twice (the client
 * is a package of its own and the domain imports nothing): this test fails to type-check, or
 * fails, when they drift apart.
 */
import assert from "node:assert/strict";
import { ERROR_STATUS, type ErrorCode } from "../../../internal/domain/domain.ts";
import { errorFromAnswer, type ServerErrorCode } from "../error.ts";

/** Answered to a client that has already gone: no client ever reads it. */
type NeverRead = "client_closed";

// Each line is a compile error when a code is on one side only.
const serverOnly: [Exclude<ErrorCode, ServerErrorCode | NeverRead>] extends [never] ? true : never =
  true;
const clientOnly: [Exclude<ServerErrorCode, ErrorCode>] extends [never] ? true : never = true;

Deno.test("every code the server answers with is one the client knows, with its status", () => {
  assert.ok(serverOnly && clientOnly);
  const codes = Object.keys(ERROR_STATUS) as ErrorCode[];
  for (
    const code of codes.filter((c): c is Exclude<ErrorCode, NeverRead> => c !== "client_closed")
  ) {
    const known: ServerErrorCode = code;
    const error = errorFromAnswer(
      ERROR_STATUS[code],
      JSON.stringify({ status: "error", code, error: `a ${code} answer` }),
    );
    assert.equal(error.code, known);
    assert.equal(error.status, ERROR_STATUS[code]);
  }
});
