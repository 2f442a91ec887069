import assert from "node:assert/strict";
import { startService } from "../../launch/service.ts";

const CLIENTS = 48;
const REQUESTS = 60;

for (const workers of [2, 4]) {
  Deno.test(`WORKERS=${workers}: every number distinct and increasing per client, across threads`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-workers-" });
    const service = await startService({ DATA_DIR: dir, WORKERS: String(workers) });
    try {
      const create = await fetch(`${service.api}/v1/sequences/events`, { method: "PUT" });
      await create.body?.cancel();
      for (const [name, path] of [["default", "/v1/sequence"], ["events", "/v1/sequence/events"]]) {
        await t.step(
          `${name}: ${CLIENTS} clients x ${REQUESTS} requests, singles and batches`,
          async () => {
            const perClient = await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
              const got: [bigint, bigint][] = [];
              for (let i = 0; i < REQUESTS; i++) {
                const count = c % 3 === 0 ? 5 : 1;
                const res = await fetch(
                  `${service.api}${path}${count > 1 ? `?count=${count}` : ""}`,
                );
                const body = await res.text();
                assert.equal(res.status, 200, body);
                const first = BigInt(/"number":(\d+)/.exec(body)![1]);
                got.push([first, first + BigInt(count) - 1n]);
              }
              return got;
            }));
            for (const got of perClient) {
              for (let i = 1; i < got.length; i++) {
                assert.ok(got[i][0] > got[i - 1][1], "a client saw numbers go backwards");
              }
            }
            const all = perClient.flat().sort((a, b) => (a[0] < b[0] ? -1 : 1));
            for (let i = 1; i < all.length; i++) {
              assert.ok(all[i][0] > all[i - 1][1], `${all[i][0]} was answered twice`);
            }
            // Within one lifetime and without batches skipping a block's tail, numbers are dense:
            // the singles and batches together cover 1..N with gaps only where a batch skipped.
            const numbers = all.reduce((s, [a, b]) => s + Number(b - a + 1n), 0);
            assert.equal(numbers, CLIENTS * REQUESTS + (CLIENTS / 3) * REQUESTS * 4);
          },
        );
      }
      await t.step(
        "threads share one block table: the committed bound covers every answer",
        async () => {
          const info = await fetch(`${service.api}/v1/sequences/default`).then((r) => r.json());
          assert.ok(BigInt(info.sequence.committed) >= BigInt(CLIENTS * REQUESTS));
        },
      );
      await t.step(
        "/debug/metrics counts the numbers every thread handed out, exactly",
        async () => {
          const text = await fetch(`${service.debug}/debug/metrics`).then((r) => r.text());
          const sample = (name: string) =>
            new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1];
          const perSequence = CLIENTS * REQUESTS + (CLIENTS / 3) * REQUESTS * 4;
          for (const name of ["default", "events"]) {
            assert.equal(
              sample(`sequencer_numbers_total{sequence="${name}"}`),
              String(perSequence),
              text,
            );
            const blocks = Number(sample(`sequencer_blocks_reserved_total{sequence="${name}"}`));
            assert.ok(blocks >= 1, `no block counted for ${name}`);
          }
          assert.equal(sample("sequencer_ready"), "1");
          assert.match(text, new RegExp(`workers="${workers}"`));
        },
      );
      await t.step("SIGTERM drains every worker and exits 0", async () => {
        service.kill("SIGTERM");
        assert.equal((await service.status).code, 0);
      });
    } finally {
      service.kill("SIGKILL");
      await service.status.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  });
}
