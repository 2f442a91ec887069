import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import {
  cpuProfileToPprof,
  decodePprofGzip,
  encodePprofGzip,
  heapProfileToPprof,
  scriptFileName,
  type V8CallFrame,
  type V8CpuProfile,
  type V8HeapProfile,
} from "../pprof_convert.ts";

function frame(functionName: string, url = "", lineNumber = -1): V8CallFrame {
  return { functionName, scriptId: url === "" ? "0" : "7", url, lineNumber, columnNumber: 0 };
}

const APP = "file:///srv/app/internal/handlers/respond.ts";

/** (root) → main → { work → (anonymous), (idle) } plus (program) under root. */
const cpu: V8CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 6] },
    { id: 2, callFrame: frame("main", "file:///srv/app/cmd/main.ts", 9), children: [3, 5] },
    { id: 3, callFrame: frame("work", APP, 19), children: [4] },
    { id: 4, callFrame: frame("", APP, 30) },
    { id: 5, callFrame: frame("(idle)") },
    { id: 6, callFrame: frame("(program)") },
  ],
  startTime: 1_000,
  endTime: 1_100,
  // samples at 1010, 1020, 1030, 1060, 1070, 1090 (µs)
  samples: [3, 4, 4, 5, 6, 3],
  timeDeltas: [10, 10, 10, 30, 10, 20],
};

/** Names and files of a sample's stack, leaf first. */
function stacks(p: Profile): Map<string, number[]> {
  const strings = p.stringTable.strings;
  const fnById = new Map(p.function.map((f) => [Number(f.id), f]));
  const locById = new Map(p.location.map((l) => [Number(l.id), l]));
  const out = new Map<string, number[]>();
  for (const s of p.sample) {
    const names = s.locationId.map((id) => {
      const line = locById.get(Number(id))!.line[0];
      const fn = fnById.get(Number(line.functionId))!;
      return `${strings[Number(fn.name)]}@${strings[Number(fn.filename)]}:${line.line}`;
    });
    out.set(names.join(" < "), s.value.map(Number));
  }
  return out;
}

Deno.test("a V8 CPU profile becomes a Go-style pprof CPU profile", async (t) => {
  const profile = cpuProfileToPprof(cpu, { timeNanos: 5n, samplingIntervalMicros: 10 });
  const strings = profile.stringTable.strings;

  await t.step("sample types samples/count and cpu/nanoseconds, period in nanoseconds", () => {
    assert.deepEqual(
      profile.sampleType.map((v) => `${strings[Number(v.type)]}/${strings[Number(v.unit)]}`),
      ["samples/count", "cpu/nanoseconds"],
    );
    assert.equal(strings[Number(profile.periodType!.type)], "cpu");
    assert.equal(Number(profile.period), 10_000);
    assert.equal(Number(profile.timeNanos), 5);
    assert.equal(Number(profile.durationNanos), 100_000);
  });

  await t.step(
    "stacks are leaf first, without (root); (idle) is not CPU time and is left out",
    () => {
      assert.deepEqual(
        stacks(profile),
        new Map([
          // work: samples at 1010 (→1020) and 1090 (→ endTime 1100): 2 samples, 20 µs
          ["work@/srv/app/internal/handlers/respond.ts:20 < main@/srv/app/cmd/main.ts:10", [
            2,
            20_000,
          ]],
          // anonymous: 1020 (→1030) and 1030 (→1060)
          [
            "(anonymous)@/srv/app/internal/handlers/respond.ts:31 < " +
            "work@/srv/app/internal/handlers/respond.ts:20 < main@/srv/app/cmd/main.ts:10",
            [2, 40_000],
          ],
          ["(program)@:0", [1, 20_000]],
        ]),
      );
    },
  );

  await t.step("each function appears once, with its 1-based start line", () => {
    const names = profile.function.map((f) => strings[Number(f.name)]).sort();
    assert.deepEqual(names, ["(anonymous)", "(program)", "main", "work"]);
    const work = profile.function.find((f) => strings[Number(f.name)] === "work")!;
    assert.equal(Number(work.startLine), 20);
  });

  await t.step(
    "the mapping says the profile is symbolized, so pprof never asks for symbols",
    () => {
      assert.equal(profile.mapping.length, 1);
      const m = profile.mapping[0];
      assert.ok(m.hasFunctions && m.hasFilenames && m.hasLineNumbers);
      assert.ok(profile.location.every((l) => Number(l.mappingId) === Number(m.id)));
    },
  );

  await t.step("without samples, hit counts times the interval are used", () => {
    const counted = cpuProfileToPprof(
      {
        nodes: [
          { id: 1, callFrame: frame("(root)"), children: [2] },
          { id: 2, callFrame: frame("f", APP, 0), hitCount: 3 },
        ],
        startTime: 0,
        endTime: 50,
      },
      { timeNanos: 0n, samplingIntervalMicros: 10 },
    );
    assert.deepEqual([...stacks(counted).values()], [[3, 30_000]]);
  });

  await t.step("negative time deltas count as zero time", () => {
    const odd = cpuProfileToPprof(
      { ...cpu, samples: [3, 3, 3], timeDeltas: [10, -5, 10], endTime: 1_015 },
      { timeNanos: 0n, samplingIntervalMicros: 10 },
    );
    // 1010 → 1005 (−5 → 0), 1005 → 1015 (10), 1015 → end 1015 (0)
    assert.deepEqual([...stacks(odd).values()], [[3, 10_000]]);
  });
});

Deno.test("a V8 sampling heap profile becomes a pprof space/bytes profile", async (t) => {
  const heap: V8HeapProfile = {
    head: {
      id: 1,
      callFrame: frame("(root)"),
      selfSize: 0,
      children: [{
        id: 2,
        callFrame: frame("main", "file:///srv/app/cmd/main.ts", 0),
        selfSize: 100,
        children: [{ id: 3, callFrame: frame("toJson", APP, 15), selfSize: 65_536, children: [] }],
      }, { id: 4, callFrame: frame("idle", APP, 1), selfSize: 0, children: [] }],
    },
    samples: [{ size: 65_536, nodeId: 3, ordinal: 1 }],
  };
  const profile = heapProfileToPprof(heap, {
    timeNanos: 1n,
    durationNanos: 2n,
    samplingIntervalBytes: 32_768,
    comments: ["hello"],
  });
  const strings = profile.stringTable.strings;

  await t.step("one sample type, space/bytes, with the sampling interval as period", () => {
    assert.deepEqual(
      profile.sampleType.map((v) => `${strings[Number(v.type)]}/${strings[Number(v.unit)]}`),
      ["space/bytes"],
    );
    assert.equal(Number(profile.period), 32_768);
    assert.deepEqual(profile.comment.map((c) => strings[Number(c)]), ["hello"]);
  });

  await t.step("every node that allocated gives one sample of its selfSize", () => {
    assert.deepEqual(
      stacks(profile),
      new Map([
        ["main@/srv/app/cmd/main.ts:1", [100]],
        ["toJson@/srv/app/internal/handlers/respond.ts:16 < main@/srv/app/cmd/main.ts:1", [
          65_536,
        ]],
      ]),
    );
  });
});

Deno.test("pprof bytes are standard gzip around the protobuf and decode back", async (t) => {
  const profile = cpuProfileToPprof(cpu, { timeNanos: 7n, samplingIntervalMicros: 10 });
  const bytes = await encodePprofGzip(profile);

  await t.step("gzip magic, and node:zlib gunzips it into a decodable profile", () => {
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b]);
    const decoded = Profile.decode(new Uint8Array(gunzipSync(bytes)));
    assert.equal(decoded.sample.length, profile.sample.length);
  });

  await t.step("decodePprofGzip round-trips the stacks", async () => {
    assert.deepEqual(stacks(await decodePprofGzip(bytes)), stacks(profile));
  });
});

Deno.test("script URLs become the file names pprof shows", () => {
  assert.equal(scriptFileName("file:///srv/my%20app/x.ts"), "/srv/my app/x.ts");
  assert.equal(scriptFileName("ext:core/01_core.js"), "ext:core/01_core.js");
  assert.equal(scriptFileName("node:internal/x"), "node:internal/x");
  assert.equal(scriptFileName(""), "");
});
