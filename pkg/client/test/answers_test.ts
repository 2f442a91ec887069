import assert from "node:assert/strict";
import fc from "fast-check";
import {
  parseBatchAnswer,
  parseFloorAnswer,
  parseNumberAnswer,
  parsePageAnswer,
  parseRetireAnswer,
  parseSequenceAnswer,
  parseTakeAnswer,
} from "../answers.ts";
import { errorFromAnswer, parseRetryAfter, SequencerClientError } from "../error.ts";
import { idempotencyHeader, newIdempotencyKey, retryDelay, retryPolicy } from "../retry.ts";

const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;
const int64 = fc.bigInt({ min: INT64_MIN, max: INT64_MAX });
/** A number as the server writes it: a JSON integer, or a JSON string with `?numbers=string`. */
const written = (n: bigint, asString: boolean) => (asString ? `"${n}"` : `${n}`);

function badResponse(error: unknown): boolean {
  return error instanceof SequencerClientError && error.code === "bad_response";
}

Deno.test("answers with any 64-bit number parse exactly, as JSON numbers or as strings", async (t) => {
  await t.step("a single number", () => {
    fc.assert(
      fc.property(int64, fc.boolean(), (n, asString) => {
        assert.equal(
          parseNumberAnswer(`{"status":"ok","sequence":{"number":${written(n, asString)}}}`),
          n,
        );
      }),
      { numRuns: 2000 },
    );
  });

  await t.step("a batch, checked to hold the count asked for", () => {
    fc.assert(
      fc.property(int64, fc.integer({ min: 1, max: 10_000_000 }), fc.boolean(), (a, count, s) => {
        const first = a - BigInt(count) < INT64_MIN ? a : a - BigInt(count) + 1n;
        const last = first + BigInt(count) - 1n;
        const text = `{"status":"ok","sequence":{"number":${written(first, s)},"count":${count},` +
          `"last":${written(last, s)}}}`;
        assert.deepStrictEqual(parseBatchAnswer(text, count), { first, last, count });
        assert.throws(() => parseBatchAnswer(text, count + 1), badResponse);
      }),
      { numRuns: 2000 },
    );
    const lying = `{"status":"ok","sequence":{"number":"10","count":5,"last":"20"}}`;
    assert.throws(() => parseBatchAnswer(lying, 5), badResponse);
  });

  await t.step("sequences, pages and floors", () => {
    fc.assert(
      fc.property(int64, int64, int64, fc.boolean(), (start, committed, floor, s) => {
        const seq = `{"name":"orders","start":${written(start, s)},"committed":${
          written(committed, s)
        }}`;
        assert.deepStrictEqual(parseSequenceAnswer(`{"status":"ok","sequence":${seq}}`), {
          name: "orders",
          start,
          committed,
        });
        assert.deepStrictEqual(
          parsePageAnswer(`{"status":"ok","sequences":[${seq},${seq}],"next":"orders"}`),
          {
            sequences: [{ name: "orders", start, committed }, { name: "orders", start, committed }],
            next: "orders",
          },
        );
        const withFloor = seq.slice(0, -1) + `,"floor":${written(floor, s)}}`;
        assert.deepStrictEqual(
          parseFloorAnswer(
            `{"status":"ok","sequence":${withFloor},"changed":true,"next":${written(floor, s)}}`,
          ),
          { sequence: { name: "orders", start, committed, floor }, changed: true, next: floor },
        );
      }),
    );
    // At the 64-bit top nothing is left: next is null. A retired sequence says so.
    const top = `{"name":"t","start":"1","committed":"9223372036854775807","floor":"1",` +
      `"retired":true}`;
    assert.deepStrictEqual(
      parseFloorAnswer(`{"status":"ok","sequence":${top},"changed":false,"next":null}`),
      {
        sequence: { name: "t", start: 1n, committed: INT64_MAX, floor: 1n, retired: true },
        changed: false,
        next: null,
      },
    );
    assert.deepStrictEqual(parseRetireAnswer(`{"status":"ok","sequence":${top},"changed":true}`), {
      sequence: { name: "t", start: 1n, committed: INT64_MAX, floor: 1n, retired: true },
      changed: true,
    });
    assert.throws(() => parseRetireAnswer(`{"status":"ok","sequence":${top}}`), badResponse);
    // A list without "next" (older servers): one page.
    assert.deepStrictEqual(parsePageAnswer(`{"status":"ok","sequences":[]}`), {
      sequences: [],
      next: null,
    });
  });

  await t.step("anything else is bad_response, naming what was wrong", () => {
    for (
      const text of [
        "",
        "<html>",
        `{"status":"error"}`,
        `{"status":"ok"}`,
        `{"status":"ok","sequence":{"number":1.5}}`,
        `{"status":"ok","sequence":{"number":"01"}}`,
        `{"status":"ok","sequence":{"number":"1e3"}}`,
        `{"status":"ok","sequence":[1]}`,
      ]
    ) {
      assert.throws(() => parseNumberAnswer(text), badResponse, text);
    }
    assert.throws(() => parsePageAnswer(`{"status":"ok","sequences":{}}`), badResponse);
    assert.throws(() => parsePageAnswer(`{"status":"ok","sequences":[],"next":5}`), badResponse);
    assert.throws(
      () => parseFloorAnswer(`{"status":"ok","sequence":{},"changed":"yes","next":1}`),
      badResponse,
    );
  });
});

Deno.test("error answers keep the server's code, status, details and Retry-After", async (t) => {
  await t.step("a coded JSON error", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("not_found", "exhausted", "unavailable", "rate_limited", "a_new_code"),
        fc.integer({ min: 400, max: 599 }),
        int64,
        fc.option(fc.nat({ max: 86_400 }), { nil: undefined }),
        (code, status, remaining, seconds) => {
          const headers = new Headers();
          if (seconds !== undefined) headers.set("retry-after", String(seconds));
          const error = errorFromAnswer(
            status,
            `{"status":"error","code":"${code}","error":"why","details":{"remaining":${remaining},"sequence":"s"}}`,
            { headers, method: "GET", path: "/v1/sequence" },
          );
          assert.equal(error.code, code);
          assert.equal(error.status, status);
          assert.deepStrictEqual(error.details, { remaining, sequence: "s" });
          assert.equal(error.retryAfterMs, seconds === undefined ? undefined : seconds * 1000);
          assert.equal(error.message, "why (GET /v1/sequence)");
        },
      ),
    );
  });

  await t.step("a proxy's page: the code comes from the status", () => {
    const page = "<html><body>Bad Gateway</body></html>";
    assert.equal(errorFromAnswer(502, page).code, "unavailable");
    assert.equal(errorFromAnswer(503, page).code, "unavailable");
    assert.equal(errorFromAnswer(504, page).code, "unavailable");
    assert.equal(errorFromAnswer(429, page).code, "rate_limited");
    assert.equal(errorFromAnswer(408, page).code, "request_timeout");
    assert.equal(errorFromAnswer(500, page).code, "bad_response");
    assert.match(errorFromAnswer(500, page).message, /Bad Gateway/);
  });

  await t.step("Retry-After as seconds or as an HTTP date", () => {
    assert.equal(parseRetryAfter(null), undefined);
    assert.equal(parseRetryAfter("1"), 1000);
    assert.equal(parseRetryAfter(" 0 "), 0);
    assert.equal(parseRetryAfter("soon"), undefined);
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", { now }), 5000);
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", { now }), 0);
  });
});

Deno.test("retry delays stay within the policy, and honour the server's Retry-After", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.integer({ min: 1, max: 100 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (initial, extra, attempt, random) => {
        const policy = retryPolicy({ initialDelayMs: initial, maxDelayMs: initial + extra });
        const delay = retryDelay(policy, attempt, { random });
        assert.ok(delay >= 0 && delay <= policy.maxDelayMs, `${delay}`);
        assert.ok(delay <= initial * 2 ** (attempt - 1) + 0.5, `${delay}`);
        assert.equal(retryDelay(policy, attempt, { retryAfterMs: 1234, random }), 1234);
      },
    ),
  );
  assert.deepStrictEqual(retryPolicy(false).attempts, 1);
  assert.throws(() => retryPolicy({ attempts: 0 }), RangeError);
  assert.throws(() => retryPolicy({ initialDelayMs: 10, maxDelayMs: 5 }), RangeError);
});

Deno.test("idempotency keys are fresh UUIDs, sent as Structured Field strings", () => {
  const keys = new Set(Array.from({ length: 1000 }, () => newIdempotencyKey()));
  assert.equal(keys.size, 1000);
  for (const key of keys) {
    assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
  assert.equal(idempotencyHeader("abc"), '"abc"');
  assert.equal(idempotencyHeader('a"b\\c'), '"a\\"b\\\\c"');
  for (const bad of ["", "é", "a\nb", "x".repeat(256)]) {
    assert.throws(
      () => idempotencyHeader(bad),
      (e) => e instanceof SequencerClientError && e.code === "invalid",
    );
  }
});

Deno.test("a take's period and formatted text are read when present, and checked", async (t) => {
  await t.step("any number with any texts round-trips", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        (number, period, formatted) => {
          const sequence = { number: String(number), period, formatted };
          const taken = parseTakeAnswer(JSON.stringify({ status: "ok", sequence }));
          assert.deepStrictEqual(taken, {
            number,
            ...(period === undefined ? {} : { period }),
            ...(formatted === undefined ? {} : { formatted }),
          });
        },
      ),
    );
  });

  await t.step("a period that is not a string is a bad_response", () => {
    assert.throws(
      () => parseTakeAnswer('{"status":"ok","sequence":{"number":1,"period":2026}}'),
      (error: unknown) =>
        error instanceof SequencerClientError && error.code === "bad_response" &&
        error.message.includes("sequence.period"),
    );
  });
});
