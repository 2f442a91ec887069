/**
 * Several replica processes on one private PostgreSQL, end to end: every answered number is
 * distinct across replicas through a replica SIGKILL and a PostgreSQL restart, requests that cannot
 * be served during the outage get 503 (never a wrong number), and service resumes by itself.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { type ServiceProcess, startService } from "../../launch/service.ts";
import {
  type PgInstance,
  postgresAvailability,
  requirePostgres,
  skipWithoutPostgres,
} from "../../launch/postgres.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";
import { eventually } from "../../launch/eventually.ts";

const ignore = skipWithoutPostgres(await postgresAvailability(), "replica tests on PostgreSQL");

const CLIENTS = 24;
/** Larger than any block the load grows (blocks last about a second): one such batch drains a block. */
const DRAIN = 10_000_000;
/** Each client asks one of these, round-robin across the replicas. */
const PATHS: [string, string][] = [
  ["default", "/v1/sequence"],
  ["orders", "/v1/sequence/orders"],
  ["default", "/v1/sequence?count=50"],
  ["orders", "/v1/sequence/orders?count=7"],
];

/**
 * `after`: every replica says ready again; `settled`: every replica has also served each sequence
 * from a block committed after the outage, so nothing may be refused any more.
 */
type Phase = "before" | "outage" | "recovering" | "after" | "settled";

/** One complete 200 answer: the numbers `first..last`. */
interface Answer {
  /** The client (a prober of slot `s` is `-1 - s`). */
  client: number;
  /** The replica slot (A, B, C) it came from. */
  slot: number;
  /** The process that answered (a restarted slot has a new one). */
  proc: number;
  sequence: string;
  first: bigint;
  last: bigint;
  phase: Phase;
  /** A drain batch sent during the outage. */
  drain: boolean;
}

/** Any answer but 200. */
interface Refusal {
  slot: number;
  phase: Phase;
  status: number;
  contentType: string | null;
  body: string;
  /** When it arrived (`performance.now()`). */
  at: number;
}

interface Proc {
  id: number;
  service: ServiceProcess;
  killed: boolean;
}

interface Slot {
  label: string;
  proc: Proc;
  up: boolean;
}

/** Reads `number` and `last` exactly (they may exceed 2^53). */
function parseAnswer(text: string): { first: bigint; last: bigint } {
  const first = /"number":(-?\d+)/.exec(text);
  assert.ok(first, `not a number answer: ${text}`);
  const last = /"last":(-?\d+)/.exec(text);
  return { first: BigInt(first[1]), last: BigInt(last ? last[1] : first[1]) };
}

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type"), text };
}

/** Asserts a 503 with a JSON error body (what a client may get instead of a number). */
function assertUnavailable(r: { status: number; contentType: string | null; body: string }) {
  assert.equal(r.status, 503, `expected 503, got ${r.status}: ${r.body}`);
  assert.equal(r.contentType, "application/json");
  const body = JSON.parse(r.body);
  assert.equal(body.status, "error");
  assert.equal(typeof body.error, "string");
  assert.ok(body.error.length > 0);
}

function byFirst(a: Answer, b: Answer): number {
  return a.first < b.first ? -1 : a.first > b.first ? 1 : 0;
}

/** How many answers share a number with the answer before them in order of their numbers. */
function overlaps(answers: Answer[]): number {
  const sorted = [...answers].sort(byFirst);
  return sorted.filter((a, i) => i > 0 && a.first <= sorted[i - 1].last).length;
}

/** Asserts that no number lies in two answers. */
function assertDistinct(answers: Answer[], what: string): void {
  const sorted = [...answers].sort(byFirst);
  for (let i = 1; i < sorted.length; i++) {
    const [p, q] = [sorted[i - 1], sorted[i]];
    assert.ok(
      q.first > p.last,
      `${what}: ${q.first} was answered twice (slots ${p.slot} and ${q.slot}, processes ` +
        `${p.proc} and ${q.proc})`,
    );
  }
}

/** Blocks committed by `service`, per sequence (from its metrics). */
async function blocksOf(service: ServiceProcess): Promise<Map<string, bigint>> {
  const res = await get(`${service.debug}/debug/metrics`);
  assert.equal(res.status, 200, res.text);
  const counts = new Map<string, bigint>();
  for (
    const [, name, value] of res.text.matchAll(
      /^sequencer_blocks_reserved_total\{sequence="([^"]+)"\} (\d+)$/gm,
    )
  ) {
    counts.set(name, BigInt(value));
  }
  return counts;
}

async function stopAll(services: ServiceProcess[]): Promise<void> {
  for (const service of services) service.kill("SIGKILL");
  await Promise.all(services.map((s) => s.status.catch(() => {})));
}

async function printLog(pg: { log(): Promise<string> }): Promise<void> {
  const log = await pg.log();
  console.error(`private PostgreSQL log:\n${log.split("\n").slice(-30).join("\n")}`);
}

/**
 * Runs `fn` on a fresh database of the PostgreSQL shared by the test run (for tests that never stop
 * or restart it). Every service `fn` adds to `services` is killed at the end, and the server's log
 * is printed on failure.
 */
async function withSharedDatabase(
  label: string,
  fn: (url: string, services: ServiceProcess[]) => Promise<void>,
): Promise<void> {
  const pg = await sharedPostgres();
  const services: ServiceProcess[] = [];
  try {
    await fn(await pg.freshDatabase(label), services);
  } catch (error) {
    await printLog(pg);
    throw error;
  } finally {
    await stopAll(services);
  }
}

/**
 * Runs `fn` on a fresh database `name` of a private PostgreSQL of its own (for tests that stop or
 * restart it). Every service `fn` adds to `services` is killed at the end, the server is removed,
 * and its log is printed on failure.
 */
async function withOwnDatabase(
  name: string,
  fn: (url: string, pg: PgInstance, services: ServiceProcess[]) => Promise<void>,
): Promise<void> {
  const pg = await requirePostgres();
  const services: ServiceProcess[] = [];
  try {
    await fn(await pg.createDatabase(name), pg, services);
  } catch (error) {
    await printLog(pg);
    throw error;
  } finally {
    await stopAll(services);
    await pg.destroy();
  }
}

Deno.test({
  name: "four replicas started at once on an empty database all migrate, start and serve",
  ignore,
  fn: (t) =>
    withSharedDatabase("race", async (url, services) => {
      await t.step("all four start against the same empty database", async () => {
        const started = await Promise.allSettled(
          [0, 1, 2, 3].map(() => startService({ DATABASE_URL: url, WORKERS: "1" })),
        );
        for (const s of started) if (s.status === "fulfilled") services.push(s.value);
        const failed = started.flatMap((s) => (s.status === "rejected" ? [String(s.reason)] : []));
        assert.deepEqual(failed, []);
        for (const service of services) {
          assert.ok(service.lines.some((l) => l.includes('"store":"postgres"')));
        }
      });

      await t.step("each serves; 400 numbers from the four are distinct", async () => {
        const numbers: bigint[] = [];
        await Promise.all(services.flatMap((service) =>
          Array.from({ length: 4 }, async () => {
            for (let i = 0; i < 25; i++) {
              const res = await get(`${service.api}/v1/sequence`);
              assert.equal(res.status, 200, res.text);
              numbers.push(parseAnswer(res.text).first);
            }
          })
        ));
        assert.equal(numbers.length, 400);
        assert.equal(new Set(numbers).size, 400);
      });

      await t.step(
        "the schema was created once: one version row, one default sequence",
        async () => {
          const sql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
          try {
            const versions = await sql`SELECT version FROM sequencer_schema ORDER BY version`;
            assert.deepEqual(versions.map((r) => r.version), [1, 2, 3, 4]);
            const names = await sql`SELECT name FROM sequencer_sequences ORDER BY name`;
            assert.deepEqual(names.map((r) => r.name), ["default"]);
          } finally {
            await sql.end({ timeout: 5 });
          }
        },
      );

      await t.step("SIGTERM: every replica exits 0", async () => {
        for (const service of services) service.kill("SIGTERM");
        const codes = await Promise.all(services.map((s) => s.status.then((x) => x.code)));
        assert.deepEqual(codes, [0, 0, 0, 0]);
      });
    }),
});

Deno.test({
  name:
    "BLOCK_SIZE_MAX=1: two replicas hold no number ahead, so they answer in the database's order",
  ignore,
  fn: (t) =>
    withSharedDatabase("strict", async (url, services) => {
      const one = { DATABASE_URL: url, BLOCK_SIZE_MIN: "1", BLOCK_SIZE_MAX: "1" };
      // One replica in-thread, one with API workers (refills then arrive by message).
      services.push(await startService({ ...one, WORKERS: "1" }));
      services.push(await startService({ ...one, WORKERS: "2" }));
      const [a, b] = services;

      await t.step("asked in turn, the two answer 1, 2, 3, … 40", async () => {
        const got: bigint[] = [];
        for (let i = 0; i < 40; i++) {
          const res = await get(`${(i % 2 === 0 ? a : b).api}/v1/sequence`);
          assert.equal(res.status, 200, res.text);
          got.push(parseAnswer(res.text).first);
        }
        assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
      });

      await t.step(
        "200 concurrent requests on both get exactly 41…240: no gap, no repeat",
        async () => {
          const got: bigint[] = [];
          await Promise.all(Array.from({ length: 20 }, async (_, c) => {
            for (let i = 0; i < 10; i++) {
              const res = await get(`${services[(c + i) % 2].api}/v1/sequence`);
              assert.equal(res.status, 200, res.text);
              got.push(parseAnswer(res.text).first);
            }
          }));
          got.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
          assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => BigInt(i + 41)));
        },
      );

      await t.step("SIGTERM: both exit 0", async () => {
        for (const service of services) service.kill("SIGTERM");
        const codes = await Promise.all(services.map((s) => s.status.then((x) => x.code)));
        assert.deepEqual(codes, [0, 0]);
      });
    }),
});

Deno.test({
  name:
    "three replicas on one PostgreSQL, through a replica SIGKILL and a PostgreSQL restart under " +
    "load: no number answered twice, 503 during the outage, service resumes without restarts",
  ignore,
  fn: (t) =>
    withOwnDatabase("replicas", async (url, pg, all) => {
      let procs = 0;
      const spawn = async (workers: string): Promise<Proc> => {
        const service = await startService({
          DATABASE_URL: url,
          WORKERS: workers,
          BATCH_MAX: String(DRAIN),
        });
        all.push(service);
        return { id: ++procs, service, killed: false };
      };
      const slots: Slot[] = [];
      const answers: Answer[] = [];
      const refusals: Refusal[] = [];
      const unexpected: string[] = [];
      let killedErrors = 0;
      let phase: Phase = "before";
      /** Per slot: the process before the outage, and whether readiness said 503 during it. */
      const beforeOutage: number[] = [];
      const notReady: boolean[] = [];

      await t.step("three replicas start on one fresh database (WORKERS 1, 2, 1)", async () => {
        const started = await Promise.all(["1", "2", "1"].map(spawn));
        started.forEach((proc, i) => slots.push({ label: "ABC"[i], proc, up: true }));
      });

      await t.step("a sequence created on replica A is usable on B and C at once", async () => {
        const created = await get(`${slots[0].proc.service.api}/v1/sequences/orders`, {
          method: "PUT",
          body: '{"start": 1000000}',
        });
        assert.equal(created.status, 201, created.text);
        const [b, c] = await Promise.all(
          [slots[1], slots[2]].map((s) => get(`${s.proc.service.api}/v1/sequence/orders`)),
        );
        assert.equal(b.status, 200, b.text);
        assert.equal(c.status, 200, c.text);
        const numbers = [parseAnswer(b.text).first, parseAnswer(c.text).first];
        assert.notEqual(numbers[0], numbers[1]);
        assert.ok(numbers.every((n) => n >= 1_000_000n), `${numbers}`);
        for (const [s, res] of [[1, b], [2, c]] as const) {
          const { first, last } = parseAnswer(res.text);
          const proc = slots[s].proc.id;
          answers.push({
            client: -10,
            slot: s,
            proc,
            sequence: "orders",
            first,
            last,
            phase,
            drain: false,
          });
        }
      });

      await t.step(
        `${CLIENTS} clients round-robin; C is SIGKILLed and restarted, then PostgreSQL restarts`,
        async () => {
          let done = false;
          const clients = Array.from({ length: CLIENTS }, async (_, c) => {
            const [sequence, path] = PATHS[c % PATHS.length];
            let turn = c;
            while (!done) {
              const s = turn++ % slots.length;
              const slot = slots[s];
              if (!slot.up) continue; // only one slot is ever down: the next turn reaches another
              const proc = slot.proc;
              const asked = phase;
              let status: number;
              let contentType: string | null;
              let text: string;
              try {
                const res = await fetch(`${proc.service.api}${path}`);
                contentType = res.headers.get("content-type");
                text = await res.text();
                status = res.status;
              } catch (error) {
                if (proc.killed) {
                  killedErrors++; // the connection died with the process
                  continue;
                }
                unexpected.push(`client ${c} → ${slot.label}: ${error}`);
                return;
              }
              // Only a complete answer counts as handed out, as for a real client.
              if (status === 200) {
                answers.push({
                  client: c,
                  slot: s,
                  proc: proc.id,
                  sequence,
                  ...parseAnswer(text),
                  phase: asked,
                  drain: false,
                });
              } else {
                // A refusal belongs to the phase it arrived in: one asked just before PostgreSQL
                // stopped may be answered during the outage.
                const at = performance.now();
                refusals.push({ slot: s, phase, status, contentType, body: text, at });
              }
            }
          });
          const load = Promise.allSettled(clients);
          /** Whether every slot answered at least `n` load requests matching `where`. */
          const served = (n: number, where: (a: Answer) => boolean) =>
            slots.every((_, s) =>
              answers.filter((a) => a.slot === s && !a.drain && where(a)).length >= n
            );
          try {
            await eventually("every replica answers under load", () => served(20, () => true));

            // A replica dies without warning, with requests in flight; clients keep trying it
            // (connection refused) until it is seen to be gone, then a new process takes its place.
            const victim = slots[2];
            victim.proc.killed = true;
            victim.proc.service.kill("SIGKILL");
            assert.notEqual((await victim.proc.service.status).code, 0);
            victim.up = false;
            victim.proc = await spawn("2");
            victim.up = true;
            const restarted = victim.proc.id;
            await eventually(
              "the restarted C answers under load",
              () => answers.filter((a) => a.proc === restarted).length >= 20,
            );

            // PostgreSQL goes away. Each replica still answers from blocks it committed; a batch
            // larger than any block needs a new one, which cannot be committed: 503, and the
            // replica reports itself not ready.
            slots.forEach((s) => beforeOutage.push(s.proc.id));
            phase = "outage";
            await pg.stop();
            const probes = await Promise.allSettled(slots.map(async (slot, s) => {
              const deadline = performance.now() + 60_000;
              for (;;) {
                assert.ok(performance.now() < deadline, `${slot.label} never answered 503`);
                const res = await get(`${slot.proc.service.api}/v1/sequence?count=${DRAIN}`);
                if (res.status === 200) {
                  answers.push({
                    client: -1 - s,
                    slot: s,
                    proc: slot.proc.id,
                    sequence: "default",
                    ...parseAnswer(res.text),
                    phase: "outage",
                    drain: true,
                  });
                  continue;
                }
                const refusal = { slot: s, phase, ...res, body: res.text, at: performance.now() };
                refusals.push(refusal);
                assertUnavailable(refusal);
                const ready = await get(`${slot.proc.service.debug}/debug/readiness`);
                notReady[s] = ready.status === 503;
                if (notReady[s]) assert.equal(ready.text, '{"status":"not ready"}');
                return;
              }
            }));
            for (const probe of probes) if (probe.status === "rejected") throw probe.reason;
            const blocksInOutage = await Promise.all(
              slots.map((slot) => blocksOf(slot.proc.service)),
            );

            // PostgreSQL returns; the replicas are not touched.
            await pg.start();
            phase = "recovering";
            await eventually("every replica is ready after PostgreSQL returned", async () => {
              const ready = await Promise.all(
                slots.map((s) => get(`${s.proc.service.debug}/debug/readiness`)),
              );
              return ready.every((r) => r.status === 200);
            });
            // A replica may still refuse briefly after it says ready, until each sequence's retry
            // has committed a block. Nothing was committed during the outage, so a block count
            // above the one read then is a block committed after it: once every replica has one
            // for each sequence, nothing may be refused any more.
            phase = "after";
            await eventually(
              "every replica commits a block of each sequence after the outage",
              async () => {
                const now = await Promise.all(slots.map((slot) => blocksOf(slot.proc.service)));
                return now.every((counts, s) =>
                  ["default", "orders"].every((q) =>
                    (counts.get(q) ?? 0n) > (blocksInOutage[s].get(q) ?? 0n)
                  )
                );
              },
            );
            phase = "settled";
            await eventually(
              "every replica serves both sequences once settled",
              () =>
                ["default", "orders"].every((sequence) =>
                  served(10, (a) => a.phase === "settled" && a.sequence === sequence)
                ),
            );
          } finally {
            done = true;
            for (const result of await load) {
              if (result.status === "rejected") unexpected.push(String(result.reason));
            }
          }
          assert.deepEqual(unexpected, [], "only the killed replica may drop connections");
        },
      );

      await t.step("counts", () => {
        const load = answers.filter((a) => !a.drain);
        const count = (list: Answer[]) =>
          list.reduce((sum, a) => sum + Number(a.last - a.first + 1n), 0);
        const unavailable = (phase: Phase) =>
          refusals.filter((r) => r.status === 503 && r.phase === phase).length;
        const duplicates = ["default", "orders"].reduce(
          (sum, sequence) => sum + overlaps(answers.filter((a) => a.sequence === sequence)),
          0,
        );
        console.log(
          `answers: ${answers.length} (${answers.length - load.length} of them drain batches); ` +
            `numbers: ${count(load)} under load + ${count(answers.filter((a) => a.drain))} in ` +
            `drain batches; 503s: ${unavailable("outage")} while PostgreSQL was down, ` +
            `${unavailable("recovering")} after it returned but before every replica was ready, ` +
            `${unavailable("after")} after that; ${killedErrors} connections lost with the ` +
            `killed replica; duplicates: ${duplicates}`,
        );
      });

      for (const sequence of ["default", "orders"]) {
        await t.step(`${sequence}: every answered number is distinct across all replicas`, () => {
          const mine = answers.filter((a) => a.sequence === sequence);
          assert.ok(mine.length > 0);
          assertDistinct(mine, sequence);
        });
      }

      await t.step(
        "each client's numbers from each replica increase, across the restart of C as well",
        () => {
          const lastOf = new Map<string, bigint>();
          for (const a of answers) {
            assert.ok(a.first <= a.last);
            const key = `${a.client}/${a.slot}/${a.sequence}`;
            const previous = lastOf.get(key);
            if (previous !== undefined) {
              assert.ok(
                a.first > previous,
                `client ${a.client} got ${a.first} from ${slots[a.slot].label} after ${previous}`,
              );
            }
            lastOf.set(key, a.last);
          }
        },
      );

      await t.step("every non-200 is a 503 with a JSON error, and none before the outage", () => {
        for (const r of refusals) assertUnavailable(r);
        assert.deepEqual(refusals.filter((r) => r.phase === "before"), []);
        assert.ok(refusals.some((r) => r.phase === "outage"), "no 503 during the outage");
      });

      await t.step("readiness said 503 during the outage on every replica", () => {
        assert.deepEqual(notReady, [true, true, true]);
      });

      await t.step(
        "after the outage every replica serves both sequences again, unrestarted, and refuses " +
          "nothing once settled",
        () => {
          assert.deepEqual(slots.map((s) => s.proc.id), beforeOutage);
          assert.deepEqual(refusals.filter((r) => r.phase === "settled"), []);
          for (const [s, slot] of slots.entries()) {
            for (const sequence of ["default", "orders"]) {
              assert.ok(
                answers.some((a) =>
                  a.slot === s && a.sequence === sequence && a.phase === "settled"
                ),
                `${slot.label} answered no ${sequence} number once settled`,
              );
            }
          }
        },
      );

      await t.step("SIGTERM: every replica exits 0", async () => {
        for (const slot of slots) slot.proc.service.kill("SIGTERM");
        const codes = await Promise.all(
          slots.map((s) => s.proc.service.status.then((x) => x.code)),
        );
        assert.deepEqual(codes, [0, 0, 0]);
      });
    }),
});
