import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../launch/service.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";

const ignorePostgres = skipWithoutPostgres(await postgresAvailability(), "give-back on PostgreSQL");

const ROUNDS = 10;
const CLIENTS = 16;

/** Loads `service` with single-number requests from `CLIENTS` clients until SIGTERM ends it. */
async function loadThenStop(service: ServiceProcess, atLeast: number): Promise<bigint[]> {
  const numbers: bigint[] = [];
  let stopping = false;
  const clients = Array.from({ length: CLIENTS }, async () => {
    for (;;) {
      let res: Response;
      try {
        res = await fetch(`${service.api}/v1/sequence?numbers=string`);
      } catch {
        return; // the server closed: it is stopping
      }
      const text = await res.text();
      if (res.status === 200) numbers.push(BigInt(JSON.parse(text).sequence.number));
      else if (!stopping) assert.fail(`status ${res.status}: ${text}`);
    }
  });
  const deadline = performance.now() + 60_000;
  while (numbers.length < atLeast) {
    if (performance.now() > deadline) assert.fail(`the load got no ${atLeast} numbers in 60 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  stopping = true;
  service.kill("SIGTERM");
  const { code } = await service.status;
  await Promise.all(clients);
  assert.equal(code, 0);
  return numbers;
}

/** Asserts `numbers` are exactly 1..N. */
function assertDense(numbers: bigint[]): bigint {
  const sorted = numbers.toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] !== BigInt(i + 1)) {
      assert.fail(`expected ${i + 1} at position ${i}, found ${sorted[i]} (a gap or a repeat)`);
    }
  }
  return BigInt(sorted.length);
}

async function restarts(env: Record<string, string>): Promise<bigint> {
  const all: bigint[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const service = await startService({ ...env, WORKERS: round % 2 === 0 ? "2" : "1" });
    try {
      all.push(...await loadThenStop(service, 200));
      assert.ok(
        service.lines.some((l) => l.includes("unused numbers given back to the store")),
        `round ${round}: no give-back was logged`,
      );
    } finally {
      service.kill("SIGKILL");
      await service.status;
    }
  }
  return assertDense(all);
}

Deno.test("ten graceful restarts under load on the embedded store: one dense range 1..N", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-give-back-" });
  try {
    const n = await restarts({ DATA_DIR: dir });
    console.log(`embedded store: 1..${n}, no gap, no repeat over ${ROUNDS} restarts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "ten graceful restarts under load on PostgreSQL with one replica: one dense range 1..N",
  ignore: ignorePostgres,
  fn: async () => {
    const pg = await sharedPostgres();
    const url = await pg.freshDatabase("give_back");
    const dir = await Deno.makeTempDir({ prefix: "sequencer-give-back-pg-" });
    try {
      const n = await restarts({ DATABASE_URL: url, DATA_DIR: dir });
      console.log(`postgres, one replica: 1..${n}, no gap, no repeat over ${ROUNDS} restarts`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "two replicas on PostgreSQL: no repeat; a give-back made unsafe by the other replica's reservation is refused and logged",
  ignore: ignorePostgres,
  fn: async () => {
    const pg = await sharedPostgres();
    const url = await pg.freshDatabase("give_back_two");
    // The other replica commits every number when it is asked (blocks of one), so it reserves
    // after the restarted one almost every time: those give-backs must be refused.
    const other = await startService({
      DATABASE_URL: url,
      WORKERS: "1",
      BLOCK_SIZE_MIN: "1",
      BLOCK_SIZE_MAX: "1",
    });
    const theirs: bigint[] = [];
    let stop = false;
    const background = (async () => {
      while (!stop) {
        const res = await fetch(`${other.api}/v1/sequence?numbers=string`);
        theirs.push(BigInt((await res.json()).sequence.number));
      }
    })();
    const mine: bigint[] = [];
    let refused = 0;
    try {
      for (let round = 0; round < 4; round++) {
        const service = await startService({ DATABASE_URL: url, WORKERS: "1" });
        mine.push(...await loadThenStop(service, 200));
        if (service.lines.some((l) => l.includes("another process reserved since"))) refused++;
      }
    } finally {
      stop = true;
      await background;
      other.kill("SIGTERM");
      await other.status;
    }
    const all = [...mine, ...theirs];
    assert.equal(new Set(all).size, all.length, "a number was answered twice");
    assert.ok(refused > 0, "no give-back was refused although the other replica kept reserving");
    console.log(
      `two replicas: ${all.length} numbers, no repeat; ${refused} of 4 give-backs refused`,
    );
  },
});
