import assert from "node:assert/strict";
import { startService } from "../../launch/service.ts";

interface Answer {
  run: number;
  sequence: string;
  first: bigint;
  last: bigint;
}

const RUNS = 6;
const CLIENTS = 24;

/** Reads `number` and `last` exactly (they may exceed 2^53). */
function parseAnswer(text: string): { first: bigint; last: bigint } {
  const first = BigInt(/"number":(-?\d+)/.exec(text)![1]);
  const last = /"last":(-?\d+)/.exec(text);
  return { first, last: last ? BigInt(last[1]) : first };
}

Deno.test("kill -9 mid-load and restart, six times: no number is ever answered twice", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-crash-" });
  const answers: Answer[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      await t.step(`run ${run + 1}: load from ${CLIENTS} clients, then SIGKILL`, async () => {
        const service = await startService({ DATA_DIR: dir, WORKERS: run % 2 === 0 ? "1" : "2" });
        try {
          if (run === 0) {
            const res = await fetch(`${service.api}/v1/sequences/orders`, {
              method: "PUT",
              body: '{"start": 9007199254740000}',
            });
            assert.equal(res.status, 201);
            await res.body?.cancel();
          }
          const paths: [string, string][] = [
            ["default", "/v1/sequence"],
            ["orders", "/v1/sequence/orders"],
            ["default", "/v1/sequence?count=50"],
            ["orders", "/v1/sequence/orders?count=7"],
          ];
          let killed = false;
          const clients = Array.from({ length: CLIENTS }, async (_, c) => {
            const [sequence, path] = paths[c % paths.length];
            while (!killed) {
              let text: string;
              try {
                const res = await fetch(`${service.api}${path}`);
                text = await res.text();
                if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
              } catch (error) {
                if (killed) return; // the connection died with the process
                throw error;
              }
              // Only a complete answer counts as handed out, as for a real client.
              answers.push({ run, sequence, ...parseAnswer(text) });
            }
          });
          await new Promise((r) => setTimeout(r, 400 + Math.random() * 500));
          killed = true;
          service.kill("SIGKILL");
          const { code } = await service.status;
          assert.notEqual(code, 0);
          await Promise.all(clients);
        } finally {
          service.kill("SIGKILL");
          await service.status.catch(() => {});
        }
      });
    }

    await t.step("every run answered, and tens of thousands of numbers in all", () => {
      for (let run = 0; run < RUNS; run++) {
        assert.ok(answers.some((a) => a.run === run), `run ${run + 1} answered nothing`);
      }
      const numbers = answers.reduce((sum, a) => sum + Number(a.last - a.first + 1n), 0);
      console.log(`${answers.length} answers, ${numbers} numbers over ${RUNS} runs`);
      assert.ok(numbers >= 20_000, `only ${numbers} numbers were answered`);
    });

    for (const sequence of ["default", "orders"]) {
      await t.step(`${sequence}: all answered numbers across runs are distinct`, () => {
        const ranges = answers.filter((a) => a.sequence === sequence).sort((a, b) =>
          a.first < b.first ? -1 : a.first > b.first ? 1 : 0
        );
        for (let i = 1; i < ranges.length; i++) {
          assert.ok(
            ranges[i].first > ranges[i - 1].last,
            `${sequence}: ${ranges[i].first} was answered twice (runs ${
              ranges[i - 1].run + 1
            } and ${ranges[i].run + 1})`,
          );
        }
      });

      await t.step(`${sequence}: each restart's first number exceeds all earlier ones`, () => {
        let highest: bigint | undefined;
        for (let run = 0; run < RUNS; run++) {
          const mine = answers.filter((a) => a.sequence === sequence && a.run === run);
          if (mine.length === 0) continue;
          const lowest = mine.reduce((m, a) => (a.first < m ? a.first : m), mine[0].first);
          if (highest !== undefined) {
            assert.ok(lowest > highest, `run ${run + 1} answered ${lowest} after ${highest}`);
          }
          const top = mine.reduce((m, a) => (a.last > m ? a.last : m), mine[0].last);
          highest = highest === undefined || top > highest ? top : highest;
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
