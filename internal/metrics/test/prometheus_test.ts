/**
 * The examples of examples/prometheus and examples/grafana, checked with Debian's `prometheus`
 * package: `promtool` checks and unit-tests the alert rules, and a real Prometheus scrapes a
 * running service with the example scrape config, evaluates the rules and answers every query of
 * the Grafana dashboard. Without `prometheus` and `promtool` on PATH the tests are skipped with a
 * message, unless `SEQUENCER_REQUIRE_PROMETHEUS=1` (CI), where they fail instead.
 */
import assert from "node:assert/strict";
import { freePort } from "../../launch/ports.ts";
import { startService } from "../../launch/service.ts";

const EXAMPLES = new URL("../../../examples/", import.meta.url);
const PROMETHEUS_DIR = decodeURIComponent(new URL("prometheus/", EXAMPLES).pathname);
const DASHBOARD = new URL("grafana/sequencer.json", EXAMPLES);

/** Whether `program` runs. */
async function runs(program: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(program, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

const required = Deno.env.get("SEQUENCER_REQUIRE_PROMETHEUS") === "1";
const installed = (await runs("prometheus")) && (await runs("promtool"));
if (!installed && !required) {
  console.warn(
    "prometheus_test: skipped: `prometheus` and `promtool` are not installed " +
      "(Debian: apt-get install prometheus); set SEQUENCER_REQUIRE_PROMETHEUS=1 to fail instead",
  );
}
const ignore = !installed && !required;

/** Runs promtool in examples/prometheus; its output on failure. */
async function promtool(...args: string[]): Promise<void> {
  const out = await new Deno.Command("promtool", { args, cwd: PROMETHEUS_DIR }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `promtool ${args.join(" ")}:\n${text}`);
}

Deno.test({
  name: "promtool: the alert rules, their unit tests and the scrape config pass",
  ignore,
  fn: async (t) => {
    await t.step("promtool check rules alerts.yml", () => promtool("check", "rules", "alerts.yml"));
    await t.step(
      "promtool test rules alerts_test.yml",
      () => promtool("test", "rules", "alerts_test.yml"),
    );
    await t.step(
      "promtool check config prometheus.yml",
      () => promtool("check", "config", "prometheus.yml"),
    );
  },
});

/** One answer of Prometheus' query API. */
interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: unknown[] }[] };
}

/** The Grafana dashboard's queries, with its variables set to "every instance and sequence". */
async function dashboardQueries(): Promise<{ panel: string; expr: string }[]> {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD)) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({
      panel: panel.title,
      expr: target.expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$instance", ".*")
        .replaceAll("$sequence", ".*"),
    }))
  );
}

/** Polls `check` every 100 ms until it returns a value; fails with `what` after 60 s. */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + 60_000;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`${what}: not so after 60 s${last === undefined ? "" : `: ${last}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test({
  name: "a real Prometheus scrapes the service, evaluates the alerts and answers the dashboard",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-prometheus-" });
    const service = await startService({ DATA_DIR: `${dir}/data` });
    const debug = service.debug.replace("http://", "");
    // The example scrape config, pointed at this service and scraping every second.
    const example = await Deno.readTextFile(`${PROMETHEUS_DIR}prometheus.yml`);
    const config = example
      .replaceAll("localhost:3001", debug)
      .replaceAll("15s", "1s")
      .replace("- alerts.yml", `- ${PROMETHEUS_DIR}alerts.yml`);
    assert.notEqual(config, example);
    await Deno.writeTextFile(`${dir}/prometheus.yml`, config);
    const port = freePort();
    const prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/tsdb`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Prometheus logs to stderr: read it all (a full pipe would stall it), keep the tail.
    const logs = Promise.all([prometheus.stdout, prometheus.stderr].map(async (stream) => {
      let tail = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        tail = (tail + chunk).slice(-4000);
      }
      return tail;
    }));
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (expr: string): Promise<QueryAnswer> => {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`);
      return await res.json();
    };
    const values = async (expr: string) =>
      ((await query(expr)).data?.result ?? []).map((r) => ({
        labels: r.metric,
        value: Number(r.value[1]),
      }));
    try {
      const created = await fetch(`${service.api}/v1/sequences/orders`, { method: "PUT" });
      assert.equal(created.status, 201);
      await created.body?.cancel();
      for (let i = 0; i < 10; i++) {
        await (await fetch(`${service.api}/v1/sequence/orders?count=5`)).body?.cancel();
        await (await fetch(`${service.api}/v1/sequence`)).body?.cancel();
      }

      await t.step("Prometheus scrapes /debug/metrics: the target is up", async () => {
        await until('up{job="sequencer"} == 1', async () => {
          const up = await values('up{job="sequencer"}');
          return up.length === 1 && up[0].value === 1 ? true : undefined;
        });
      });

      await t.step("the counters arrive with their labels", async () => {
        const numbers = await until("sequencer_numbers_total of orders at 50", async () => {
          const got = await values('sequencer_numbers_total{sequence="orders"}');
          return got[0]?.value === 50 ? got[0] : undefined;
        });
        assert.equal(numbers.labels.job, "sequencer");
        assert.equal(numbers.labels.instance, debug);
        const last = await values('sequencer_last_number{sequence="orders"}');
        assert.equal(last[0]?.value, 50);
        const ready = await values("sequencer_ready");
        assert.equal(ready[0]?.value, 1);
        const commits = await values("sequencer_store_commit_duration_seconds_count");
        assert.ok(commits[0]?.value >= 2, "the first blocks of default and orders");
        const info = await values("sequencer_build_info");
        assert.equal(info[0]?.labels.store, "sqlite");
      });

      await t.step("every rule of alerts.yml is loaded and evaluates; none fires", async () => {
        const rules = await until("the sequencer group evaluated", async () => {
          const res = await (await fetch(`${api}/rules`)).json();
          const group = res.data.groups.find((g: { name: string }) => g.name === "sequencer");
          const list = (group?.rules ?? []) as { name: string; health: string }[];
          return list.length > 0 && list.every((r) => r.health === "ok") ? list : undefined;
        });
        assert.deepEqual(rules.map((r) => r.name), [
          "SequencerDown",
          "SequencerStoreDown",
          "SequencerNotReady",
          "SequencerBlockReservationsFailing",
          "SequencerSequenceNearEnd",
        ]);
        const alerts = (await (await fetch(`${api}/alerts`)).json()).data.alerts;
        assert.deepEqual(alerts, [], "a healthy service fires no alert");
      });

      await t.step("every query of the Grafana dashboard answers, with data", async () => {
        const queries = await dashboardQueries();
        assert.ok(queries.length >= 12, `${queries.length} queries`);
        // Traffic between scrapes, so that rates have two points to go on.
        for (let i = 0; i < 10; i++) {
          await (await fetch(`${service.api}/v1/sequence/orders`)).body?.cancel();
        }
        for (const { panel, expr } of queries) {
          const answer = await query(expr);
          assert.equal(answer.status, "success", `${panel}: ${expr}: ${answer.error}`);
          await until(`${panel}: ${expr} has data`, async () => {
            const result = (await query(expr)).data?.result ?? [];
            return result.length > 0 ? result : undefined;
          });
        }
      });
    } finally {
      prometheus.kill("SIGTERM");
      const [status, tail] = await Promise.all([prometheus.status, logs]);
      service.kill("SIGTERM");
      const serviceStatus = await service.status;
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, `prometheus exited with ${status.code}:\n${tail.join("\n")}`);
      assert.equal(serviceStatus.code, 0, serviceStatus.stderr);
    }
  },
});
