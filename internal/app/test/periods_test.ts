import assert from "node:assert/strict";
import { eventually } from "../../launch/eventually.ts";
import { runFlags, type ServiceProcess, startService } from "../../launch/service.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";
import { CLOCK_OFFSET_ENV } from "../../period/clock.ts";

const ignorePostgres = skipWithoutPostgres(await postgresAvailability(), "periods on PostgreSQL");

/**
 * 2031 begins in Pacific/Kiritimati (UTC+14) at 10:00 UTC on 31 December 2030: a new year, month
 * and day at once, 14 hours before UTC's.
 */
const BOUNDARY = Date.UTC(2030, 11, 31, 10);
const OLD = { inv: "2030", mon: "2030-12", day: "2030-12-31" } as const;
const NEW = { inv: "2031", mon: "2031-01", day: "2031-01-01" } as const;
type Name = keyof typeof OLD;
const NAMES = Object.keys(OLD) as Name[];
const SETTINGS: Record<Name, unknown> = {
  inv: { reset: "yearly", timezone: "Pacific/Kiritimati", format: "INV-{YYYY}-{N:6}" },
  mon: { reset: "monthly", timezone: "Pacific/Kiritimati", format: "{YY}{MM}-{N}" },
  day: { reset: "daily", timezone: "Pacific/Kiritimati" },
};

function formatted(name: Name, period: string, n: bigint): string | undefined {
  if (name === "inv") return `INV-${period}-${String(n).padStart(6, "0")}`;
  if (name === "mon") return `${period.slice(2, 4)}${period.slice(5, 7)}-${n}`;
  return undefined;
}

/**
 * A service whose clock is shifted by `offsetMs` (the test-only variable, which the service's
 * permission flags otherwise do not let it read).
 */
async function startShifted(
  env: Record<string, string>,
  offsetMs: number,
): Promise<ServiceProcess> {
  const full: Record<string, string> = { API_PORT: "0", DEBUG_PORT: "0", WORKERS: "2", ...env };
  full[CLOCK_OFFSET_ENV] = String(Math.round(offsetMs));
  const flags = (await runFlags(full)).map((flag) =>
    flag.startsWith("--allow-env=") ? `${flag},${CLOCK_OFFSET_ENV}` : flag
  );
  return await startService(full, { flags });
}

/** One answer: which service, sequence and period, and its numbers. */
interface Answer {
  service: string;
  name: Name;
  period: string;
  first: bigint;
  count: bigint;
}

async function take(service: ServiceProcess, name: Name, count: number): Promise<Answer> {
  const res = await fetch(`${service.api}/v1/sequence/${name}?count=${count}&numbers=string`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const { sequence } = JSON.parse(text);
  const first = BigInt(sequence.number);
  const answer = {
    service: service.api,
    name,
    period: sequence.period,
    first,
    count: BigInt(count),
  };
  assert.equal(BigInt(sequence.last), first + answer.count - 1n);
  assert.equal(sequence.formatted, formatted(name, answer.period, first));
  assert.equal(sequence.lastFormatted, formatted(name, answer.period, first + answer.count - 1n));
  return answer;
}

/** Loads `service` from 16 clients, batches of 1 to 3, until stopped or the service is gone. */
function load(service: ServiceProcess, answers: Answer[]) {
  let stopped = false;
  const clients = Array.from({ length: 16 }, async (_, client) => {
    for (let i = 0; !stopped; i++) {
      try {
        answers.push(await take(service, NAMES[(client + i) % 3], 1 + ((client + i) % 3)));
      } catch (error) {
        if (error instanceof TypeError) return; // the connection was refused: it is gone
        throw error;
      }
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(clients);
    },
  };
}

/** Polls until `check` holds, to a deadline of 3 minutes (these tests cross real seconds). */
const until = (what: string, check: () => boolean | Promise<boolean>) =>
  eventually(what, check, 180_000);

function inPeriod(answers: Answer[], name: Name, period: string): Answer[] {
  return answers.filter((a) => a.name === name && a.period === period);
}

/** Every number of each sequence and period at most once; returns them sorted, per key. */
function noRepeat(answers: Answer[]): Map<string, bigint[]> {
  const numbers = new Map<string, bigint[]>();
  for (const a of answers) {
    const key = `${a.name}@${a.period}`;
    const list = numbers.get(key) ?? [];
    for (let n = a.first; n < a.first + a.count; n++) list.push(n);
    numbers.set(key, list);
  }
  for (const [key, list] of numbers) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 1; i < list.length; i++) {
      assert.notEqual(list[i], list[i - 1], `${key}: ${list[i]} was answered twice`);
    }
  }
  return numbers;
}

async function metrics(service: ServiceProcess): Promise<string> {
  return await (await fetch(`${service.debug}/debug/metrics`)).text();
}

/**
 * Starts services with `start` (given the clock offset) until one answers in the old period of
 * every sequence: its clock is then before the boundary, which it crosses in real time. The lead
 * doubles when starting took longer than it (a loaded machine).
 */
async function startBefore(
  start: (offsetMs: number) => Promise<ServiceProcess>,
  setUp: (service: ServiceProcess) => Promise<void>,
): Promise<{ service: ServiceProcess; offsetMs: number }> {
  for (let lead = 10_000;; lead *= 2) {
    const offsetMs = BOUNDARY - lead - Date.now();
    const service = await start(offsetMs);
    await setUp(service);
    const first = await Promise.all(NAMES.map((name) => take(service, name, 1)));
    if (first.every((a) => a.period === OLD[a.name])) return { service, offsetMs };
    service.kill("SIGKILL");
    await service.status;
    assert.ok(lead < 160_000, "the service never started before the boundary");
  }
}

async function create(service: ServiceProcess): Promise<void> {
  for (const name of NAMES) {
    const res = await fetch(`${service.api}/v1/sequences/${name}`, {
      method: "PUT",
      body: JSON.stringify(SETTINGS[name]),
    });
    const text = await res.text();
    assert.ok(res.status === 201 || res.status === 200, text);
  }
}

Deno.test({
  name: "periods on service processes (WORKERS=2): a year, month and day crossed in real time " +
    "under load, a crash after it, a restart with a clock behind",
  sanitizeResources: true,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-periods-" });
    const services: ServiceProcess[] = [];
    const answers: Answer[] = [];
    try {
      const { service: a, offsetMs } = await startBefore(
        (offset) => startShifted({ DATA_DIR: dir }, offset),
        create,
      );
      services.push(a);

      await t.step("A crosses the boundary under load; then it is killed (-9)", async () => {
        const running = load(a, answers);
        await until(
          "every sequence answered 200 times in its new period",
          () => NAMES.every((name) => inPeriod(answers, name, NEW[name]).length >= 200),
        );
        a.kill("SIGKILL");
        await running.stop();
        await a.status;
        for (const name of NAMES) {
          assert.ok(inPeriod(answers, name, OLD[name]).length > 0, `${name}: no old period`);
          const fresh = noRepeat(answers).get(`${name}@${NEW[name]}`)!;
          assert.equal(fresh[0], 1n, `${name}: ${NEW[name]} did not start at 1`);
        }
        console.log(
          `A: ${answers.length} answers; ${
            NAMES.map((n) => `${n} ${inPeriod(answers, n, OLD[n]).length} in ${OLD[n]}`)
          }`,
        );
      });

      await t.step("B, restarted after the boundary, goes on in the new periods", async () => {
        const b = await startShifted({ DATA_DIR: dir }, offsetMs);
        services.push(b);
        const mine: Answer[] = [];
        const running = load(b, mine);
        await until(
          "B answered 100 times per sequence",
          () => NAMES.every((name) => mine.filter((x) => x.name === name).length >= 100),
        );
        await running.stop();
        assert.ok(mine.every((x) => x.period === NEW[x.name]), "B answered in an old period");
        answers.push(...mine);
        noRepeat(answers);
        const text = await metrics(b);
        for (const name of NAMES) {
          assert.match(
            text,
            new RegExp(`sequencer_period_info\\{sequence="${name}",period="${NEW[name]}"\\} 1`),
          );
        }
        assert.equal(text.includes("sequencer_store_clock_offset_seconds"), false);
        const shown = await (await fetch(`${b.api}/v1/sequences/inv`)).json();
        assert.equal(shown.period.name, "2031");
        const list = await (await fetch(`${b.api}/v1/sequences`)).json();
        assert.deepEqual(list.sequences.map((s: { name: string }) => s.name), [
          "day",
          "default",
          "inv",
          "mon",
        ]);
        b.kill("SIGTERM");
        assert.equal((await b.status).code, 0);
      });

      await t.step(
        "C, with a clock an hour behind, goes on in the old periods, above A",
        async () => {
          const c = await startShifted({ DATA_DIR: dir }, offsetMs - 3_600_000);
          services.push(c);
          const mine: Answer[] = [];
          const running = load(c, mine);
          await until(
            "C answered 50 times per sequence",
            () => NAMES.every((name) => mine.filter((x) => x.name === name).length >= 50),
          );
          await running.stop();
          for (const name of NAMES) {
            const before = inPeriod(answers, name, OLD[name]);
            const highest = before.reduce(
              (m, x) => (x.first + x.count - 1n > m ? x.first + x.count - 1n : m),
              0n,
            );
            for (const x of mine.filter((x) => x.name === name)) {
              assert.equal(x.period, OLD[name]);
              assert.ok(x.first > highest, `${name}: ${x.first} not above ${highest}`);
            }
          }
          answers.push(...mine);
          noRepeat(answers);
          c.kill("SIGKILL");
          await c.status;
        },
      );
    } finally {
      for (const service of services) service.kill("SIGKILL");
      await Promise.all(services.map((s) => s.status));
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "periods on PostgreSQL: two replicas whose clocks differ cross the boundary under load, " +
    "each period unique across them",
  ignore: ignorePostgres,
  fn: async (t) => {
    const pg = await sharedPostgres();
    const url = await pg.freshDatabase("periods");
    const services: ServiceProcess[] = [];
    const answers: Answer[] = [];
    // B's clock is 1.5 s behind A's: for 1.5 s around the boundary they answer different periods.
    const skewMs = 1_500;
    try {
      const { service: a, offsetMs } = await startBefore(
        (offset) => startShifted({ DATABASE_URL: url }, offset),
        create,
      );
      services.push(a);
      const b = await startShifted({ DATABASE_URL: url }, offsetMs - skewMs);
      services.push(b);

      await t.step("both under load until both answer in the new periods", async () => {
        const loads = [load(a, answers), load(b, answers)];
        await until(
          "each replica answered 100 times per sequence in its new period",
          () =>
            services.every((s) =>
              NAMES.every((name) =>
                inPeriod(answers, name, NEW[name]).filter((x) => x.service === s.api).length >= 100
              )
            ),
        );
        await Promise.all(loads.map((l) => l.stop()));
        const numbers = noRepeat(answers);
        for (const name of NAMES) {
          assert.equal(numbers.get(`${name}@${NEW[name]}`)![0], 1n);
          for (const s of services) {
            assert.ok(
              inPeriod(answers, name, OLD[name]).some((x) => x.service === s.api),
              `${s.api} answered nothing in ${OLD[name]}`,
            );
          }
        }
      });

      await t.step(
        "metrics: the current periods, and each replica's offset to the store's clock",
        async () => {
          for (const [service, offset] of [[a, offsetMs], [b, offsetMs - skewMs]] as const) {
            const text = await metrics(service);
            assert.match(text, /sequencer_period_info\{sequence="inv",period="2031"\} 1/);
            // The store's clock is the real one; the replica's runs `offset` ahead of it.
            const sample = /^sequencer_store_clock_offset_seconds (\S+)$/m.exec(text);
            assert.ok(sample, "no clock offset in the metrics");
            const seconds = Number(sample[1]);
            assert.ok(
              Math.abs(seconds + offset / 1000) < 2,
              `offset ${seconds} s, expected about ${-offset / 1000} s`,
            );
          }
        },
      );
    } finally {
      for (const service of services) service.kill("SIGKILL");
      await Promise.all(services.map((s) => s.status));
    }
  },
});
