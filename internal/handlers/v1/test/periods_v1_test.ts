import assert from "node:assert/strict";
import { SequenceOwner } from "../../../atomicSequence/owner.ts";
import { createSequences } from "../../../atomicSequence/sequences.ts";
import { openSqliteStore } from "../../../store/sqlite_thread.ts";
import { silentLogger } from "../../../log/log.ts";
import { createRouter } from "../../../http/router.ts";
import { v1Routes } from "../v1.ts";

interface Result {
  status: number;
  text: string;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

type Call = (method: string, path: string, body?: unknown) => Promise<Result>;

/** The v1 API in process, on a clock the test sets (ms since the epoch). */
async function withApi(fn: (call: Call, clock: { now: number }) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-v1-periods-" });
  const store = await openSqliteStore(dir);
  const clock = { now: Date.UTC(2026, 11, 31, 9, 59, 59) };
  const now = () => clock.now;
  const owner = await SequenceOwner.start(store, { logger: silentLogger, now });
  const sequences = createSequences(owner.table, owner, { waitMs: 60_000, now });
  const handler = createRouter(v1Routes(sequences, { batchMax: 1000, now }));
  try {
    await fn(async (method, path, body) => {
      const res = await handler(
        new Request(`http://localhost${path}`, {
          method,
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text), headers: res.headers };
    }, clock);
  } finally {
    await owner.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const INVOICES = { reset: "yearly", timezone: "Pacific/Kiritimati", format: "INV-{YYYY}-{N:6}" };
/** 2027 begins in Kiritimati at 10:00 UTC on 31 December 2026. */
const NEW_YEAR = Date.UTC(2026, 11, 31, 10);

Deno.test("v1: sequences with periods and formats", async (t) => {
  await withApi(async (call, clock) => {
    await t.step("PUT with reset, timezone and format: 201 showing them; again 200", async () => {
      const created = await call("PUT", "/v1/sequences/inv", {
        ...INVOICES,
        timezone: "pacific/kiritimati",
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.sequence, {
        name: "inv",
        start: 1,
        committed: 0,
        floor: 1,
        retired: false,
        ...INVOICES,
      });
      const again = await call("PUT", "/v1/sequences/inv", INVOICES);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body.sequence, created.body.sequence);
    });

    await t.step("the same name with other settings is 409, naming both", async () => {
      for (
        const body of [
          { ...INVOICES, reset: "monthly" },
          { ...INVOICES, timezone: "UTC" },
          { ...INVOICES, format: "INV-{N}" },
          { reset: "yearly", timezone: "Pacific/Kiritimati" },
          {},
        ]
      ) {
        const res = await call("PUT", "/v1/sequences/inv", body);
        assert.equal(res.status, 409, JSON.stringify(body));
        assert.equal(res.body.code, "conflict");
        assert.match(
          res.body.error,
          /already exists with reset yearly, timezone Pacific\/Kiritimati/,
        );
      }
      const plain = await call("PUT", "/v1/sequences/plain");
      assert.equal(plain.status, 201);
      const res = await call("PUT", "/v1/sequences/plain", { reset: "daily" });
      assert.equal(res.status, 409);
      assert.match(res.body.error, /already exists with no reset and no format, not reset daily/);
      const def = await call("PUT", "/v1/sequences/default", { format: "{N}" });
      assert.equal(def.status, 409);
      assert.match(def.body.error, /"default" cannot have numbering settings/);
    });

    await t.step("bad settings are 400 naming the field and the rule", async () => {
      const cases: [unknown, RegExp][] = [
        [{ reset: "weekly" }, /reset "weekly" is invalid: must be one of "never", "yearly"/],
        [{ reset: 1 }, /reset 1 is invalid/],
        [{ reset: "yearly", timezone: "Mars/Olympus" }, /timezone "Mars\/Olympus" is unknown/],
        [{ reset: "yearly", timezone: "+02:00" }, /timezone "\+02:00" is invalid/],
        [{ timezone: "Europe/Paris" }, /has no effect/],
        [{ format: "INV-{YYYY}" }, /format "INV-\{YYYY\}" is invalid: it has no \{N\}/],
        [{ format: "{N:99}" }, /pads to more than 20 digits/],
        [{ format: "{N}{Q}" }, /\{Q\} at position 4 is not a token/],
        [{ format: "x".repeat(65) }, /it has 65 characters/],
        [{ reset: "yearly", color: "red" }, /field "color" is unknown/],
      ];
      for (const [body, message] of cases) {
        const res = await call("PUT", "/v1/sequences/bad", body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.code, "invalid");
        assert.match(res.body.error, message);
      }
      assert.equal((await call("GET", "/v1/sequences/bad")).status, 404, "created anyway");
    });

    await t.step("answers add period and formatted; a batch adds lastFormatted", async () => {
      const one = await call("GET", "/v1/sequence/inv");
      assert.equal(one.status, 200);
      assert.equal(one.headers.get("cache-control"), "no-store");
      assert.equal(
        one.text,
        '{"status":"ok","sequence":{"number":1,"period":"2026","formatted":"INV-2026-000001"}}',
      );
      const batch = await call("GET", "/v1/sequence/inv?count=3&numbers=string");
      assert.equal(
        batch.text,
        '{"status":"ok","sequence":{"number":"2","count":3,"last":"4","period":"2026",' +
          '"formatted":"INV-2026-000002","lastFormatted":"INV-2026-000004"}}',
      );
    });

    await t.step("past the boundary: the next period, from the start again", async () => {
      clock.now = NEW_YEAR;
      const res = await call("GET", "/v1/sequence/inv?count=2");
      assert.equal(
        res.text,
        '{"status":"ok","sequence":{"number":1,"count":2,"last":2,"period":"2027",' +
          '"formatted":"INV-2027-000001","lastFormatted":"INV-2027-000002"}}',
      );
    });

    await t.step("a format alone: formatted, no period; JSON escapes in it", async () => {
      const created = await call("PUT", "/v1/sequences/tickets", {
        start: 42,
        format: 'T"\\{N:4}',
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(
        [created.body.sequence.reset, created.body.sequence.timezone],
        ["never", "UTC"],
      );
      const res = await call("GET", "/v1/sequence/tickets");
      assert.deepEqual(res.body.sequence, { number: 42, formatted: 'T"\\0042' });
    });

    await t.step("plain sequences answer exactly as before", async () => {
      assert.equal(
        (await call("GET", "/v1/sequence/plain?count=2")).text,
        '{"status":"ok","sequence":{"number":1,"count":2,"last":2}}',
      );
      const shown = (await call("GET", "/v1/sequences/plain")).body;
      assert.deepEqual(Object.keys(shown), ["status", "sequence"]);
      assert.deepEqual(Object.keys(shown.sequence), [
        "name",
        "start",
        "committed",
        "floor",
        "retired",
      ]);
    });

    await t.step("listings leave periods out; GET shows the current period", async () => {
      const list = await call("GET", "/v1/sequences?limit=10");
      assert.deepEqual(list.body.sequences.map((s: { name: string }) => s.name), [
        "default",
        "inv",
        "plain",
        "tickets",
      ]);
      const paged = await call("GET", "/v1/sequences?limit=1&after=inv");
      assert.deepEqual(paged.body.sequences.map((s: { name: string }) => s.name), ["plain"]);
      const shown = await call("GET", "/v1/sequences/inv");
      assert.equal(shown.body.sequence.committed, 0, "the parent's own bound");
      assert.equal(shown.body.period.name, "2027");
      assert.equal(shown.body.period.floor, 1);
      assert.ok(shown.body.period.committed >= 2);
      assert.equal((await call("GET", "/v1/sequence/inv%402026")).status, 400, "a period by name");
    });

    await t.step("a floor on the sequence applies to its current period", async () => {
      const res = await call("PATCH", "/v1/sequences/inv", { floor: 500 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.changed, true);
      assert.equal(res.body.next, 500);
      assert.deepEqual(res.body.period, { name: "2027", committed: 499, floor: 500 });
      assert.equal(res.body.sequence.floor, 1, "the sequence's own floor changed");
      assert.equal(
        (await call("GET", "/v1/sequence/inv")).body.sequence.formatted,
        "INV-2027-000500",
      );
      // A new period starts at the start again, whatever the floor of the last one.
      clock.now = Date.UTC(2027, 11, 31, 10);
      assert.equal(
        (await call("GET", "/v1/sequence/inv")).body.sequence.formatted,
        "INV-2028-000001",
      );
      const low = await call("PATCH", "/v1/sequences/inv", { floor: 1 });
      assert.deepEqual([low.body.changed, low.body.period.name], [false, "2028"]);
      // A floor in a period not yet begun (nothing taken) creates its sub-sequence.
      const daily = await call("PUT", "/v1/sequences/day", { reset: "daily" });
      assert.equal(daily.status, 201);
      const raised = await call("PATCH", "/v1/sequences/day", { floor: 10 });
      assert.deepEqual(raised.body.period, { name: "2027-12-31", committed: 9, floor: 10 });
      assert.equal((await call("GET", "/v1/sequence/day")).body.sequence.number, 10);
    });

    await t.step("DELETE retires every period: 410, and shown retired", async () => {
      const res = await call("DELETE", "/v1/sequences/inv");
      assert.equal(res.status, 200);
      assert.equal(res.body.sequence.retired, true);
      const next = await call("GET", "/v1/sequence/inv");
      assert.equal(next.status, 410);
      assert.equal(next.body.code, "retired");
      assert.match(next.body.error, /sequence "inv" is retired/);
      clock.now = NEW_YEAR - 1;
      assert.equal((await call("GET", "/v1/sequence/inv")).status, 410, "an older period answered");
      const shown = await call("GET", "/v1/sequences/inv");
      assert.equal(shown.body.period, undefined);
      // The highest bound of its periods: a revival must start above it.
      assert.ok(shown.body.sequence.committed >= 500, `${shown.body.sequence.committed}`);
    });
  });
});
