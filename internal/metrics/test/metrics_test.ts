import assert from "node:assert/strict";
import { labelValue, METRICS_CONTENT_TYPE, metricsRoutes, renderMetrics } from "../metrics.ts";
import { CommitLatency } from "../store_latency.ts";
import type { OwnerStats } from "../../atomicSequence/owner.ts";
import { createRouter } from "../../http/router.ts";

const build = { environment: "prod", store: "sqlite", workers: 2 };
const startedAt = 1_700_000_000_500;

const snapshot: OwnerStats = {
  storeUp: true,
  sequences: [
    {
      name: "default",
      numbers: 1_500n,
      lastNumber: 1_500n,
      blocks: 3,
      failures: 0,
      blockSize: 400n,
    },
    {
      name: "big",
      numbers: 2n,
      lastNumber: 9_007_199_254_740_993n,
      blocks: 1,
      failures: 2,
      blockSize: 100n,
    },
    { name: "unused", numbers: 0n, lastNumber: undefined, blocks: 0, failures: 1, blockSize: 100n },
  ],
  periods: [{ sequence: "inv", period: "2026" }, { sequence: "daily", period: "2026-11-27" }],
  storeClockOffsetMs: undefined,
};

/** Every sample line as `name{labels}` → value text. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-z_]+(?:\{[^}]*\})?) (-?\d+)$/.exec(line);
    assert.ok(match, `not a sample line of the text format: ${JSON.stringify(line)}`);
    out.set(match[1], match[2]);
  }
  return out;
}

Deno.test("metrics in the Prometheus text format", async (t) => {
  await t.step("per-sequence counters, with exact digits above 2^53", () => {
    const got = samples(
      renderMetrics({ stats: snapshot, ready: true, http: undefined }, { build, startedAt }),
    );
    assert.equal(got.get('sequencer_numbers_total{sequence="default"}'), "1500");
    assert.equal(got.get('sequencer_last_number{sequence="big"}'), "9007199254740993");
    assert.equal(got.get('sequencer_blocks_reserved_total{sequence="default"}'), "3");
    assert.equal(got.get('sequencer_block_reservation_failures_total{sequence="big"}'), "2");
    assert.equal(got.get('sequencer_block_size{sequence="default"}'), "400");
    assert.equal(got.get("sequencer_ready"), "1");
    assert.equal(got.get("sequencer_store_up"), "1");
    assert.equal(got.get("process_start_time_seconds"), "1700000000");
  });

  await t.step("a sequence that has handed out nothing has no last number", () => {
    const got = samples(
      renderMetrics({ stats: snapshot, ready: true, http: undefined }, { build, startedAt }),
    );
    assert.equal(got.get('sequencer_numbers_total{sequence="unused"}'), "0");
    assert.equal(got.has('sequencer_last_number{sequence="unused"}'), false);
  });

  await t.step("every family has HELP and TYPE once, before its samples", () => {
    const text = renderMetrics({ stats: snapshot, ready: false, http: undefined }, {
      build,
      startedAt,
    });
    const lines = text.split("\n");
    const names = new Set(
      lines.filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]),
    );
    for (const name of names) {
      const help = lines.findIndex((l) => l.startsWith(`# HELP ${name} `));
      const type = lines.findIndex((l) => l.startsWith(`# TYPE ${name} `));
      const first = lines.findIndex((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      assert.ok(help >= 0 && type === help + 1 && first > type, `${name} is not declared first`);
    }
    assert.ok(text.endsWith("\n"));
  });

  await t.step("while starting: no sequences, not ready, store not up, build info still", () => {
    const got = samples(
      renderMetrics({ stats: undefined, ready: false, http: undefined }, { build, startedAt }),
    );
    assert.equal([...got.keys()].some((k) => k.startsWith("sequencer_numbers_total")), false);
    assert.equal(got.get("sequencer_ready"), "0");
    assert.equal(got.get("sequencer_store_up"), "0");
    const info = [...got.keys()].find((k) => k.startsWith("sequencer_build_info"));
    assert.match(info!, /environment="prod",store="sqlite",workers="2",deno="\d/);
  });

  await t.step("the API's connections: workers, open, in flight, refused, timed out", () => {
    const http = {
      workers: 4,
      listening: 3,
      open: 120,
      inFlight: 7,
      refused: 2,
      timedOut: 15,
      acceptErrors: 9,
    };
    const got = samples(
      renderMetrics({ stats: snapshot, ready: true, http }, { build, startedAt }),
    );
    assert.equal(got.get("sequencer_api_workers"), "4");
    assert.equal(got.get("sequencer_api_workers_listening"), "3");
    assert.equal(got.get("sequencer_http_connections"), "120");
    assert.equal(got.get("sequencer_http_requests_in_flight"), "7");
    assert.equal(got.get("sequencer_http_connections_refused_total"), "2");
    assert.equal(got.get("sequencer_http_connections_timed_out_total"), "15");
    assert.equal(got.get("sequencer_http_accept_errors_total"), "9");
  });

  await t.step("store commit durations: a histogram once the owner runs, none before", async () => {
    const commits = new CommitLatency([0.001, 0.01]);
    commits.onReserve("default", 100n, 10, 10.5); // 0.5 ms
    commits.onReserve("default", 100n, 20, 25); // 5 ms
    commits.onReserve("other", 100n, 30, 60); // 30 ms: only in +Inf
    const options = { stats: () => snapshot, ready: () => true, build, startedAt };
    const router = createRouter(metricsRoutes({ ...options, commits: () => commits.snapshot() }));
    const text = await (await router(new Request("http://localhost/debug/metrics"))).text();
    const name = "sequencer_store_commit_duration_seconds";
    assert.match(text, new RegExp(`# HELP ${name} .+\n# TYPE ${name} histogram\n`));
    const lines = text.split("\n").filter((l) => l.startsWith(name));
    assert.deepEqual(lines.slice(0, 3), [
      `${name}_bucket{le="0.001"} 1`,
      `${name}_bucket{le="0.01"} 2`,
      `${name}_bucket{le="+Inf"} 3`,
    ]);
    assert.equal(Number(lines[3].split(" ")[1]).toFixed(4), "0.0355");
    assert.equal(lines[4], `${name}_count 3`);
    const starting = createRouter(metricsRoutes({ ...options, commits: () => undefined }));
    const before = await (await starting(new Request("http://localhost/debug/metrics"))).text();
    assert.equal(before.includes(name), false);
  });

  await t.step("the current period of each sequence with periods, as an info gauge", () => {
    const got = samples(
      renderMetrics({ stats: snapshot, ready: true, http: undefined }, { build, startedAt }),
    );
    assert.equal(got.get('sequencer_period_info{sequence="inv",period="2026"}'), "1");
    assert.equal(got.get('sequencer_period_info{sequence="daily",period="2026-11-27"}'), "1");
    assert.equal([...got.keys()].filter((k) => k.startsWith("sequencer_period_info")).length, 2);
  });

  await t.step("the store's clock offset in seconds, only for a store with a clock", () => {
    const name = "sequencer_store_clock_offset_seconds";
    const embedded = renderMetrics({ stats: snapshot, ready: true, http: undefined }, {
      build,
      startedAt,
    });
    assert.equal(embedded.includes(name), false);
    for (const [ms, text] of [[-1500, "-1.5"], [2, "0.002"], [0, "0"]] as const) {
      const stats = { ...snapshot, storeClockOffsetMs: ms };
      const lines = renderMetrics({ stats, ready: true, http: undefined }, { build, startedAt })
        .split("\n");
      const type = lines.indexOf(`# TYPE ${name} gauge`);
      assert.ok(type > 0 && lines[type - 1].startsWith(`# HELP ${name} `));
      assert.equal(lines[type + 1], `${name} ${text}`);
    }
  });

  await t.step("label values escape backslash, quote and newline", () => {
    assert.equal(labelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    const text = renderMetrics({ stats: undefined, ready: false, http: undefined }, {
      build: { ...build, environment: 'x"y' },
      startedAt,
    });
    assert.match(text, /environment="x\\"y"/);
  });

  await t.step("GET /debug/metrics answers the text format, uncached", async () => {
    const router = createRouter(
      metricsRoutes({ stats: () => snapshot, ready: () => true, build, startedAt }),
    );
    const res = await router(new Request("http://localhost/debug/metrics"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(samples(await res.text()).get('sequencer_numbers_total{sequence="big"}'), "2");
    const post = await router(new Request("http://localhost/debug/metrics", { method: "POST" }));
    assert.equal(post.status, 405);
    await post.body?.cancel();
  });
});
