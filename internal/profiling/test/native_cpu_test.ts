import assert from "node:assert/strict";
import type { Profile } from "pprof-format";
import { startService } from "../../launch/service.ts";
import { mergeCpuProfiles } from "../merge.ts";
import {
  cpuProfileToPprof,
  decodePprofGzip,
  NATIVE_FRAME,
  OTHER_THREADS_FRAME,
  type V8CallFrame,
  type V8CpuProfile,
} from "../pprof_convert.ts";

function frame(functionName: string, url = ""): V8CallFrame {
  return { functionName, scriptId: url === "" ? "0" : "7", url, lineNumber: 3, columnNumber: 0 };
}

/**
 * (root) → work, and (idle): samples of `work` every 1 ms for `jsMs`, then idle samples until
 * `windowMs` (µs on V8's clock).
 */
function threadProfile(jsMs: number, windowMs: number): V8CpuProfile {
  const samples: number[] = [];
  for (let ms = 0; ms < windowMs; ms++) samples.push(ms < jsMs ? 2 : 3);
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3] },
      { id: 2, callFrame: frame("work", "file:///srv/app/work.ts") },
      { id: 3, callFrame: frame("(idle)") },
    ],
    startTime: 0,
    endTime: windowMs * 1000,
    samples,
    timeDeltas: samples.map((_, i) => (i === 0 ? 0 : 1000)),
  };
}

/** Nanoseconds and sample counts by stack (`leaf < … < outermost`). */
function byStack(p: Profile): Map<string, [count: number, nanos: number]> {
  const strings = p.stringTable.strings;
  const fnById = new Map(p.function.map((f) => [Number(f.id), f]));
  const locById = new Map(p.location.map((l) => [Number(l.id), l]));
  const out = new Map<string, [number, number]>();
  for (const s of p.sample) {
    const name = s.locationId.map((id) => {
      const fn = fnById.get(Number(locById.get(Number(id))!.line[0].functionId))!;
      return strings[Number(fn.name)];
    }).join(" < ");
    out.set(name, [Number(s.value[0]), Number(s.value[1])]);
  }
  return out;
}

/** The profile's total CPU time (nanoseconds), what `go tool pprof -top` calls its total. */
function totalNanos(p: Profile): number {
  return p.sample.reduce((sum, s) => sum + Number(s.value[1]), 0);
}

const options = { timeNanos: 1n, samplingIntervalMicros: 1000 };

Deno.test("CPU V8 does not sample becomes labelled native frames", async (t) => {
  await t.step(
    "per thread: its measured CPU minus its JavaScript; the rest of the process at the top",
    () => {
      const merged = mergeCpuProfiles([
        { thread: "main", profile: threadProfile(10, 100) },
        { thread: "api-worker-0", profile: threadProfile(30, 100) },
      ]);
      const profile = cpuProfileToPprof(merged, {
        ...options,
        native: {
          processMicros: 200_000,
          threads: [
            { thread: "main", cpuMicros: 50_000 },
            { thread: "api-worker-0", cpuMicros: 80_000 },
          ],
        },
        comments: ["V8 says hello"],
      });
      const stacks = byStack(profile);
      assert.deepEqual(stacks.get("work < (thread main)"), [10, 10_000_000]);
      assert.deepEqual(stacks.get("work < (thread api-worker-0)"), [30, 30_000_000]);
      assert.deepEqual(stacks.get(`${NATIVE_FRAME} < (thread main)`), [40, 40_000_000]);
      assert.deepEqual(stacks.get(`${NATIVE_FRAME} < (thread api-worker-0)`), [50, 50_000_000]);
      assert.deepEqual(stacks.get(OTHER_THREADS_FRAME), [70, 70_000_000]);
      assert.equal(totalNanos(profile), 200_000_000, "the total is the process's CPU time");
      const comments = profile.comment.map((i) => profile.stringTable.strings[Number(i)]);
      assert.equal(comments[0], "V8 says hello");
      assert.match(comments[1], /160 ms of the process's 200 ms/);
    },
  );

  await t.step("one thread without thread frames: the native frame at the top", () => {
    const profile = cpuProfileToPprof(threadProfile(20, 50), {
      ...options,
      native: { processMicros: 90_000, threads: [{ thread: "main", cpuMicros: 60_000 }] },
    });
    const stacks = byStack(profile);
    assert.deepEqual(stacks.get("work"), [20, 20_000_000]);
    assert.deepEqual(stacks.get(NATIVE_FRAME), [40, 40_000_000]);
    assert.deepEqual(stacks.get(OTHER_THREADS_FRAME), [30, 30_000_000]);
    assert.equal(totalNanos(profile), 90_000_000);
  });

  await t.step("JavaScript above the measured time: no negative frame, nothing taken off", () => {
    const merged = mergeCpuProfiles([
      { thread: "main", profile: threadProfile(40, 100) },
      { thread: "api-worker-0", profile: threadProfile(5, 100) },
    ]);
    const profile = cpuProfileToPprof(merged, {
      ...options,
      native: {
        processMicros: 50_000,
        threads: [
          { thread: "main", cpuMicros: 30_000 },
          { thread: "api-worker-0", cpuMicros: undefined },
        ],
      },
    });
    const stacks = byStack(profile);
    assert.equal(stacks.has(`${NATIVE_FRAME} < (thread main)`), false);
    assert.equal(stacks.has(`${NATIVE_FRAME} < (thread api-worker-0)`), false);
    // 50 ms of process time, 40 ms of main's JavaScript and 5 ms of the worker's (time unknown).
    assert.deepEqual(stacks.get(OTHER_THREADS_FRAME), [5, 5_000_000]);
  });

  await t.step("without native: the JavaScript samples only, as before", () => {
    const profile = cpuProfileToPprof(threadProfile(20, 50), options);
    assert.deepEqual([...byStack(profile).keys()], ["work"]);
  });
});

/** User plus system clock ticks of process `pid` (every thread), read with `cat`. */
async function processTicks(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

/** Keeps `clients` concurrent requests going until `stop` settles. */
function load(url: string, clients: number, stop: Promise<unknown>): Promise<unknown> {
  let done = false;
  const finish = () => (done = true);
  stop.then(finish, finish);
  return Promise.all(Array.from({ length: clients }, async () => {
    while (!done) await fetch(url).then((r) => r.body?.cancel());
  }));
}

Deno.test("under load, a CPU profile's total is the process's CPU time over its window (±10%)", async () => {
  const hz = Number(
    new TextDecoder().decode(
      (await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()).stdout,
    ).trim(),
  ) || 100;
  const dir = await Deno.makeTempDir({ prefix: "sequencer-native-cpu-" });
  const service = await startService({ DATA_DIR: dir, WORKERS: "2" });
  try {
    const stop = Promise.withResolvers<void>();
    const running = load(`${service.api}/v1/sequence`, 16, stop.promise);
    // The capture's window, as the service logs it: read the process's CPU time at each end.
    const started = service.waitForLog((e) => e.msg === "cpu profile started")
      .then(() => processTicks(service.pid));
    const finished = service.waitForLog((e) => e.msg === "cpu profile finished")
      .then(() => processTicks(service.pid));
    const res = await fetch(`${service.debug}/debug/pprof/profile?seconds=5`);
    assert.equal(res.status, 200);
    const profile = await decodePprofGzip(new Uint8Array(await res.arrayBuffer()));
    stop.resolve();
    await running;
    const measuredNanos = ((await finished) - (await started)) / hz * 1e9;
    const total = totalNanos(profile);
    const names = new Set(profile.function.map((f) => profile.stringTable.strings[Number(f.name)]));
    assert.ok(names.has(NATIVE_FRAME) && names.has(OTHER_THREADS_FRAME), [...names].join(", "));
    // Under load most of the CPU is outside JavaScript: without the native frames the profile
    // held a tenth of it.
    assert.ok(measuredNanos > 1e9, `the service used ${measuredNanos / 1e6} ms of CPU under load`);
    const ratio = total / measuredNanos;
    assert.ok(
      ratio >= 0.9 && ratio <= 1.1,
      `profile total ${Math.round(total / 1e6)} ms, process CPU ${
        Math.round(measuredNanos / 1e6)
      } ms over the window (ratio ${ratio.toFixed(3)})`,
    );
  } finally {
    service.kill("SIGTERM");
    const status = await service.status;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, status.stderr);
  }
});
