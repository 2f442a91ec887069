import assert from "node:assert/strict";
import { runToExit, spawnService, startService } from "../../launch/service.ts";
import { freePort } from "../../launch/ports.ts";

async function numbers(api: string, count: number): Promise<number[]> {
  const got: number[] = [];
  for (let i = 0; i < count; i++) {
    got.push((await fetch(`${api}/v1/sequence`).then((r) => r.json())).sequence.number);
  }
  return got;
}

Deno.test("one process per API port: a second instance exits 1 naming the port and the other process", async (t) => {
  const lockDir = await Deno.makeTempDir({ prefix: "sequencer-locks-" });
  const first = await Deno.makeTempDir({ prefix: "sequencer-port-a-" });
  const port = freePort();
  const running = await startService({
    DATA_DIR: first,
    WORKERS: "2",
    API_PORT: String(port),
    LOCK_DIR: lockDir,
  });
  const pid = (await running.waitForLog((e) => e.msg === "starting")).pid as number;
  try {
    const before = await numbers(running.api, 20);
    for (const workers of ["1", "2", "4"]) {
      await t.step(
        `WORKERS=${workers}: the second copy (another DATA_DIR) is refused`,
        async () => {
          const second = await Deno.makeTempDir({ prefix: "sequencer-port-b-" });
          try {
            const result = await runToExit({
              DATA_DIR: second,
              WORKERS: workers,
              API_PORT: String(port),
              DEBUG_PORT: "0",
              LOCK_DIR: lockDir,
            });
            assert.equal(result.code, 1, result.stderr);
            const lines = result.stderr.trim().split("\n");
            assert.equal(lines.length, 1, result.stderr);
            assert.match(lines[0], new RegExp(`API_PORT=${port} is already served`));
            assert.match(lines[0], new RegExp(`pid ${pid}\\b`));
            assert.ok(!result.stdout.includes("api server listening"));
          } finally {
            await Deno.remove(second, { recursive: true });
          }
        },
      );
    }
    await t.step("the first keeps serving, no number repeated", async () => {
      const after = await numbers(running.api, 200);
      const all = [...before, ...after];
      assert.equal(new Set(all).size, all.length);
      assert.ok(Math.min(...after) > Math.max(...before));
    });
    await t.step(
      "once the first is gone (even by SIGKILL), the port can be served again",
      async () => {
        running.kill("SIGKILL");
        await running.status;
        const next = await startService({
          DATA_DIR: first,
          API_PORT: String(port),
          LOCK_DIR: lockDir,
        });
        try {
          const [n] = await numbers(next.api, 1);
          assert.ok(n > 220, `${n} is not above the numbers of the killed process`);
        } finally {
          next.kill("SIGTERM");
          assert.equal((await next.status).code, 0);
        }
      },
    );
  } finally {
    running.kill("SIGKILL");
    await running.status;
    await Deno.remove(first, { recursive: true });
    await Deno.remove(lockDir, { recursive: true });
  }
});

Deno.test("a port held by another program is refused with a message naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-port-" });
  const other = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  try {
    const port = (other.addr as Deno.NetAddr).port;
    const result = await runToExit({ DATA_DIR: dir, API_PORT: String(port), DEBUG_PORT: "0" });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`API_PORT=${port} is already in use by another program`),
    );
  } finally {
    other.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two copies started at the same moment on one port: exactly one serves", async () => {
  const lockDir = await Deno.makeTempDir({ prefix: "sequencer-locks-" });
  const dirs = [
    await Deno.makeTempDir({ prefix: "sequencer-race-a-" }),
    await Deno.makeTempDir({ prefix: "sequencer-race-b-" }),
  ];
  const port = String(freePort());
  const copies = await Promise.all(
    dirs.map((dir) =>
      spawnService({ DATA_DIR: dir, WORKERS: "2", API_PORT: port, LOCK_DIR: lockDir })
    ),
  );
  try {
    const outcomes = await Promise.all(copies.map((copy) =>
      Promise.race([
        copy.waitForLog((e) => e.msg === "api server listening").then(() => "serving"),
        copy.status.then((s) => `exited ${s.code}`),
      ])
    ));
    assert.deepEqual(outcomes.toSorted(), ["exited 1", "serving"]);
  } finally {
    for (const copy of copies) copy.kill("SIGKILL");
    await Promise.all(copies.map((c) => c.status));
    for (const dir of [...dirs, lockDir]) await Deno.remove(dir, { recursive: true });
  }
});
