import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../launch/service.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";

const ignore = skipWithoutPostgres(await postgresAvailability(), "floors across replicas");

/** Reads `number` exactly (it may exceed 2^53). */
function first(text: string): bigint {
  return BigInt(/"number":"?(-?\d+)/.exec(text)![1]);
}

async function next(service: ServiceProcess, name: string): Promise<Response> {
  return await fetch(`${service.api}/v1/sequence/${name}?numbers=string`);
}

/** Takes numbers of `name` from `service` until stopped; what each answer was. */
function load(service: ServiceProcess, name: string) {
  let stop = false;
  const numbers: bigint[] = [];
  const done = (async () => {
    while (!stop) {
      const res = await next(service, name);
      const text = await res.text();
      if (res.status === 200) numbers.push(first(text));
    }
  })();
  return {
    numbers,
    async stop() {
      stop = true;
      await done;
    },
  };
}

Deno.test({
  name: "a floor or a retirement made through one replica holds on every replica once answered",
  ignore,
  fn: async (t) => {
    const pg = await sharedPostgres();
    const url = await pg.freshDatabase("floors");
    const replicas = [
      await startService({ DATABASE_URL: url, WORKERS: "2" }),
      await startService({ DATABASE_URL: url, WORKERS: "2" }),
    ];
    const [a, b] = replicas;
    try {
      const created = await fetch(`${a.api}/v1/sequences/orders`, { method: "PUT" });
      assert.equal(created.status, 201);
      await created.body?.cancel();

      await t.step(
        "under load on both, a floor raised through A: B answers nothing below it",
        async () => {
          const loads = [load(a, "orders"), load(b, "orders")];
          // Both hold blocks in memory by now.
          const deadline = performance.now() + 60_000;
          while (loads.some((l) => l.numbers.length < 50)) {
            if (performance.now() > deadline) assert.fail("the loads got no 50 numbers in 60 s");
            await new Promise((r) => setTimeout(r, 5));
          }
          const floor = 1_000_000n;
          const raised = await fetch(`${a.api}/v1/sequences/orders`, {
            method: "PATCH",
            body: JSON.stringify({ floor: String(floor) }),
          });
          assert.equal(raised.status, 200, await raised.clone().text());
          assert.equal((await raised.json()).changed, true);
          // Answered: from here on, every number of every replica is at or above the floor.
          const after = await Promise.all(replicas.map(async (replica) => {
            const got: bigint[] = [];
            for (let i = 0; i < 30; i++) {
              const res = await next(replica, "orders");
              assert.equal(res.status, 200);
              got.push(first(await res.text()));
            }
            return got;
          }));
          await Promise.all(loads.map((l) => l.stop()));
          for (const n of after.flat()) assert.ok(n >= floor, `${n} answered below the floor`);
          const all = [...loads.flatMap((l) => l.numbers), ...after.flat()];
          assert.equal(new Set(all).size, all.length, "a number was answered twice");
        },
      );

      await t.step("retired through B: A answers 410 at once, across a restart too", async () => {
        const warm = await next(a, "orders");
        assert.equal(warm.status, 200);
        await warm.body?.cancel();
        const retired = await fetch(`${b.api}/v1/sequences/orders`, { method: "DELETE" });
        assert.equal(retired.status, 200);
        await retired.body?.cancel();
        for (const replica of replicas) {
          const res = await next(replica, "orders");
          assert.equal(res.status, 410, `${replica.api}: ${await res.clone().text()}`);
          assert.equal((await res.json()).code, "retired");
        }
        a.kill("SIGTERM");
        assert.equal((await a.status).code, 0);
        replicas[0] = await startService({ DATABASE_URL: url, WORKERS: "1" });
        const res = await next(replicas[0], "orders");
        assert.equal(res.status, 410);
        await res.body?.cancel();
      });
    } finally {
      for (const replica of replicas) replica.kill("SIGKILL");
      await Promise.all(replicas.map((r) => r.status));
    }
  },
});
