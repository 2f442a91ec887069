import assert from "node:assert/strict";
import type { Route } from "../../http/router.ts";
import { startService } from "../../launch/service.ts";
import { observeService } from "../instruments.ts";
import { everyHook, metricsEnabled, type ReserveHook, tracingEnabled } from "../otel.ts";
import { reservationSpans, withRouteSpans } from "../spans.ts";
import {
  attribute,
  type OtlpPoint,
  type OtlpSpan,
  startOtlpReceiver,
  waitFor,
} from "./otlp_receiver.ts";

const SEQUENCE = "otel-orders";

Deno.test("OpenTelemetry off: nothing is installed, the routes are the same objects", async (t) => {
  // This test process runs without OTEL_DENO (unless someone exports it to the tests).
  const on = ["true", "1"].includes(Deno.env.get("OTEL_DENO") ?? "");
  await t.step("detection follows OTEL_DENO", () => {
    assert.equal(tracingEnabled(), on);
    assert.equal(metricsEnabled(), on);
  });
  await t.step("off: routes unchanged, no reservation hook, no instruments", () => {
    const routes: Route[] = [{
      method: "GET",
      path: "/x",
      access: "open",
      handler: () => new Response("x"),
    }];
    assert.equal(withRouteSpans(routes, { enabled: false }), routes);
    assert.equal(reservationSpans({ store: "sqlite", enabled: false }), undefined);
    const view = { stats: () => undefined, ready: () => true };
    assert.equal(observeService(view, { store: "sqlite", enabled: false }), undefined);
  });
  await t.step("everyHook calls each defined hook in order, and is absent without any", () => {
    const calls: string[] = [];
    const hook = (tag: string): ReserveHook => (name, size, started, committed, installed) =>
      calls.push(`${tag}:${name}:${size}:${started}:${committed}:${installed}`);
    assert.equal(everyHook(undefined, undefined), undefined);
    const one = hook("a");
    assert.equal(everyHook(undefined, one), one);
    everyHook(hook("a"), undefined, hook("b"))!("s", 5n, 1, 2, 3);
    assert.deepEqual(calls, ["a:s:5:1:2:3", "b:s:5:1:2:3"]);
  });
});

/** The spans named `name`. */
function named(spans: OtlpSpan[], name: string): OtlpSpan[] {
  return spans.filter((s) => s.name === name);
}

/** The first data point of `metric` whose attributes hold every pair of `where`. */
function point(
  points: OtlpPoint[],
  metric: string,
  where: Record<string, string> = {},
): OtlpPoint | undefined {
  return points.findLast((p) =>
    p.metric === metric &&
    Object.entries(where).every(([key, value]) => attribute(p.attributes, key) === value)
  );
}

Deno.test("OTEL_DENO=true: the service's spans and metrics reach a real OTLP/HTTP receiver", async (t) => {
  const receiver = startOtlpReceiver();
  const dir = await Deno.makeTempDir({ prefix: "sequencer-otel-" });
  const service = await startService({
    DATA_DIR: dir,
    WORKERS: "2",
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: "sequencer-test",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });
  const seen = () => ({
    requests: Object.fromEntries(receiver.requests()),
    spans: [...new Set(receiver.spans().map((s) => s.name))],
    metrics: [...new Set(receiver.points().map((p) => p.metric))],
  });
  try {
    const created = await fetch(`${service.api}/v1/sequences/${SEQUENCE}`, { method: "PUT" });
    assert.equal(created.status, 201, await created.text());
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${service.api}/v1/sequence/${SEQUENCE}?count=3`);
      assert.equal(res.status, 200, await res.text());
    }
    const missing = await fetch(`${service.api}/no/such/path`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    await t.step("request spans carry http.route and are named after it", async () => {
      const span = await waitFor(
        "a span GET /v1/sequence/:name",
        () => named(receiver.spans(), "GET /v1/sequence/:name")[0],
        { seen },
      );
      assert.equal(attribute(span.attributes, "http.route"), "/v1/sequence/:name");
      assert.equal(attribute(span.attributes, "http.request.method"), "GET");
      assert.equal(attribute(span.attributes, "url.path"), `/v1/sequence/${SEQUENCE}`);
      assert.equal(attribute(span.attributes, "http.response.status_code"), "200");
      assert.equal(span.kind, 2, "SPAN_KIND_SERVER");
      const put = await waitFor(
        "a span PUT /v1/sequences/:name",
        () => named(receiver.spans(), "PUT /v1/sequences/:name")[0],
        { seen },
      );
      assert.equal(attribute(put.attributes, "http.response.status_code"), "201");
      // No route matched: Deno's own name (the method) and no http.route.
      const unrouted = await waitFor(
        "the 404's span",
        () => receiver.spans().find((s) => attribute(s.attributes, "url.path") === "/no/such/path"),
        { seen },
      );
      assert.equal(unrouted.name, "GET");
      assert.equal(attribute(unrouted.attributes, "http.route"), undefined);
    });

    await t.step("a block reservation span with its store commit as child", async () => {
      const block = await waitFor(
        `a block reservation of ${SEQUENCE}`,
        () =>
          named(receiver.spans(), "block reservation").find((s) =>
            attribute(s.attributes, "sequencer.sequence") === SEQUENCE
          ),
        { seen },
      );
      assert.ok(Number(attribute(block.attributes, "sequencer.block.size")) >= 100);
      assert.ok(!block.parentSpanId, "a reservation is a root span");
      const commit = await waitFor(
        "its store commit",
        () => named(receiver.spans(), "store commit").find((s) => s.parentSpanId === block.spanId),
        { seen },
      );
      assert.equal(commit.traceId, block.traceId);
      assert.equal(attribute(commit.attributes, "db.system.name"), "sqlite");
      assert.equal(attribute(commit.attributes, "sequencer.sequence"), SEQUENCE);
      const [start, end] = [BigInt(block.startTimeUnixNano), BigInt(block.endTimeUnixNano)];
      const commitEnd = BigInt(commit.endTimeUnixNano);
      assert.equal(BigInt(commit.startTimeUnixNano), start);
      assert.ok(start <= commitEnd && commitEnd <= end, "the commit lies within the reservation");
      // Times are wall-clock nanoseconds (within a day of now), not performance.now() offsets.
      const now = BigInt(Date.now()) * 1_000_000n;
      assert.ok(now - start < 86_400_000_000_000n && start - now < 86_400_000_000_000n);
    });

    await t.step("the sequence counters and the commit histogram arrive as metrics", async () => {
      const where = { "sequencer.sequence": SEQUENCE };
      const numbers = await waitFor(
        "sequencer.numbers of the sequence, at 6",
        () => {
          const p = point(receiver.points(), "sequencer.numbers", where);
          return p !== undefined && Number(p.asDouble ?? p.asInt) >= 6 ? p : undefined;
        },
        { seen },
      );
      assert.equal(numbers.kind, "sum");
      assert.equal(numbers.scope, "sequencer");
      for (const metric of ["sequencer.blocks.reserved", "sequencer.block.size"]) {
        const p = point(receiver.points(), metric, where);
        assert.ok(p !== undefined && Number(p.asDouble ?? p.asInt) >= 1, metric);
      }
      assert.equal(Number(point(receiver.points(), "sequencer.last_number", where)?.asDouble), 6);
      assert.equal(
        point(receiver.points(), "sequencer.block_reservation.failures", where)?.asDouble,
        0,
      );
      const ready = await waitFor(
        "sequencer.ready at 1",
        () => point(receiver.points(), "sequencer.ready")?.asDouble === 1 || undefined,
        { seen },
      );
      assert.ok(ready);
      assert.equal(point(receiver.points(), "sequencer.store.up")?.asDouble, 1);
      const commits = point(receiver.points(), "sequencer.store.commit.duration", {
        "db.system.name": "sqlite",
      });
      assert.equal(commits?.kind, "histogram");
      assert.ok(Number(commits?.count) >= 2, "the default's and the sequence's first blocks");
    });

    await t.step("Deno's HTTP metrics carry http.route", async () => {
      const duration = await waitFor(
        "http.server.request.duration with http.route",
        () =>
          point(receiver.points(), "http.server.request.duration", {
            "http.route": "/v1/sequence/:name",
          }),
        { seen },
      );
      assert.ok(Number(duration.count) >= 2);
    });
  } finally {
    service.kill("SIGTERM");
    const status = await service.status;
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, status.stderr);
  }
});

Deno.test("OTEL_DENO=true: an exit that blocks in the runtime's flush is ended by the watchdog", async () => {
  const receiver = startOtlpReceiver();
  const dir = await Deno.makeTempDir({ prefix: "sequencer-otel-exit-" });
  const service = await startService({
    DATA_DIR: dir,
    WORKERS: "1",
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    SEQUENCER_FAILPOINT: "exit-blocks",
  });
  try {
    const res = await fetch(`${service.api}/v1/sequence`);
    assert.equal(res.status, 200, await res.text());
    service.kill("SIGTERM");
    const status = await service.status;
    assert.equal(status.code, 137, status.stderr);
    assert.ok(service.lines.some((l) => l.includes('"outcome":"graceful"')), "shut down first");
    const line = service.lines.find((l) => l.includes("exit blocked"));
    assert.ok(line, service.lines.join("\n"));
    assert.deepEqual([JSON.parse(line).level, JSON.parse(line).code], ["error", 0]);
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});
