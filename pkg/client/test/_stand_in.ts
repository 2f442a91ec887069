/**
 * A stand-in for the parts of the HTTP API the server does not have yet, built from their agreed
 * shape: bearer tokens with 401/403, 429 `rate_limited`, and `Idempotency-Key` (a replay with
 * `Idempotency-Replayed: true`, 422 `idempotency_mismatch` for another request under the same
 * key, 409 `in_flight` while the first is served). A real HTTP server on port 0 that records
 * every request; it serves numbers (`GET /v1/sequence…`) and creates and shows sequences, in
 * memory. Once the service has these, the tests using this move to it.
 *
 * @module
 */

/** One request as the stand-in saw it. */
export interface SeenRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** The `Idempotency-Key` header, if any. */
  key: string | null;
  /** The `Authorization` header, if any. */
  authorization: string | null;
}

/** A one-shot answer the test puts ahead of the normal handling of the next request. */
export type Interceptor = (request: SeenRequest) => Response | undefined;

/** The stand-in server. */
export interface StandIn {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request so far. */
  seen: SeenRequest[];
  /** Answers taken, in order, before normal handling (each used once). */
  intercept: Interceptor[];
  /**
   * From now on, a keyed request that is new waits for {@link release} before it is served (so
   * its key is in flight meanwhile).
   */
  hold(): void;
  /** Serves the held requests; new ones are no longer held. */
  release(): void;
  /** Releases what is held and stops the server. */
  close(): Promise<void>;
}

interface Sequence {
  start: bigint;
  next: bigint;
}

interface Stored {
  fingerprint: string;
  /** Undefined while in flight. */
  answer: { status: number; body: string } | undefined;
}

function error(status: number, code: string, message: string, headers: HeadersInit = {}) {
  return new Response(JSON.stringify({ status: "error", code, error: message }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Starts the stand-in; `token` (when given) is required as `Bearer`, `"forbidden"` gets 403. */
export function startStandIn(options: { token?: string } = {}): StandIn {
  const sequences = new Map<string, Sequence>([
    ["default", { start: 1n, next: 1n }],
  ]);
  const keys = new Map<string, Stored>();
  const info = (name: string, s: Sequence) => ({
    name,
    start: String(s.start),
    committed: String(s.next - 1n),
  });

  /** The answer of a request, without idempotency. */
  function handle(method: string, url: URL, body: string): { status: number; body: string } {
    const ok = (value: Record<string, unknown>, status = 200) => ({
      status,
      body: JSON.stringify({ status: "ok", ...value }),
    });
    const fail = (status: number, code: string, message: string) => ({
      status,
      body: JSON.stringify({ status: "error", code, error: message }),
    });
    const parts = url.pathname.split("/").slice(1); // v1, sequence(s), name?
    const name = parts[2] ?? "default";
    const sequence = sequences.get(name);
    if (parts[1] === "sequence" && method === "GET") {
      if (sequence === undefined) return fail(404, "not_found", `sequence ${name} does not exist`);
      const count = BigInt(url.searchParams.get("count") ?? "1");
      const first = sequence.next;
      sequence.next += count;
      const last = first + count - 1n;
      return ok({
        sequence: url.searchParams.has("count")
          ? { number: String(first), count: Number(count), last: String(last) }
          : { number: String(first) },
      });
    }
    if (parts[1] === "sequences" && method === "PUT") {
      const start = BigInt(body === "" ? 1 : JSON.parse(body).start);
      if (sequence === undefined) {
        const created = { start, next: start };
        sequences.set(name, created);
        return ok({ sequence: info(name, created) }, 201);
      }
      if (sequence.start !== start) return fail(409, "conflict", `${name} has another start`);
      return ok({ sequence: info(name, sequence) });
    }
    if (sequence === undefined) return fail(404, "not_found", `sequence ${name} does not exist`);
    if (method === "GET") return ok({ sequence: info(name, sequence) });
    return fail(405, "method_not_allowed", `${method} is not allowed`);
  }

  let gate: { held: Promise<void>; open: () => void } | undefined;
  const standIn: StandIn = {
    url: "",
    seen: [],
    intercept: [],
    hold() {
      let open!: () => void;
      const held = new Promise<void>((resolve) => open = resolve);
      gate = { held, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    close() {
      standIn.release();
      return server.shutdown();
    },
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = await req.text();
    const seen: SeenRequest = {
      method: req.method,
      path: url.pathname + url.search,
      key: req.headers.get("idempotency-key"),
      authorization: req.headers.get("authorization"),
    };
    standIn.seen.push(seen);
    const intercepted = standIn.intercept.shift()?.(seen);
    if (intercepted !== undefined) return intercepted;
    if (options.token !== undefined) {
      if (seen.authorization === "Bearer forbidden") {
        return error(403, "forbidden", "this token may not do that");
      }
      if (seen.authorization !== `Bearer ${options.token}`) {
        return error(401, "unauthorized", "a bearer token is required", {
          "www-authenticate": "Bearer",
        });
      }
    }
    const fingerprint = `${req.method} ${url.pathname}${url.search} ${body}`;
    const json = (answer: { status: number; body: string }, headers: HeadersInit = {}) =>
      new Response(answer.body, {
        status: answer.status,
        headers: { "content-type": "application/json", ...headers },
      });
    if (seen.key === null) return json(handle(req.method, url, body));
    const stored = keys.get(seen.key);
    if (stored !== undefined) {
      if (stored.fingerprint !== fingerprint) {
        return error(422, "idempotency_mismatch", "this key was used for another request");
      }
      if (stored.answer === undefined) {
        return error(409, "in_flight", "a request with this key is being served");
      }
      return json(stored.answer, { "idempotency-replayed": "true" });
    }
    const entry: Stored = { fingerprint, answer: undefined };
    keys.set(seen.key, entry);
    await gate?.held;
    entry.answer = handle(req.method, url, body);
    return json(entry.answer);
  });
  standIn.url = `http://127.0.0.1:${server.addr.port}`;
  return standIn;
}
