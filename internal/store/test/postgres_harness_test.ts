/**
 * The private PostgreSQL the tests run on (`internal/launch/postgres.ts`) and the one cluster the
 * tests of a run share (`internal/launch/test_cluster.ts`).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import {
  postgresAvailability,
  requirePostgres,
  skipWithoutPostgres,
} from "../../launch/postgres.ts";
import { accepts, exists } from "../../launch/test_cluster.ts";
import { eventually } from "../../launch/eventually.ts";

const availability = await postgresAvailability();
const ignore = skipWithoutPostgres(availability, "private PostgreSQL harness tests");

Deno.test({
  name: "as root, the private PostgreSQL starts with runuser missing from PATH",
  ignore: ignore || Deno.uid() !== 0,
  fn: async (t) => {
    const empty = await Deno.makeTempDir({ prefix: "sequencer-empty-path-" });
    const saved = Deno.env.get("PATH");
    Deno.env.set("PATH", empty);
    try {
      await t.step("availability names runuser by a full path outside PATH", async () => {
        const found = await postgresAvailability();
        assert.ok(found.ok, !found.ok ? found.reason : "");
        assert.match(found.runuser ?? "", /^\/(usr\/)?sbin\/runuser$/);
      });
      await t.step("the server starts, takes a database and answers", async () => {
        const pg = await requirePostgres();
        try {
          const url = await pg.createDatabase("no_runuser_on_path");
          const sql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
          try {
            const [row] = await sql`SELECT current_database() AS name`;
            assert.equal(row.name, "no_runuser_on_path");
          } finally {
            await sql.end({ timeout: 5 });
          }
        } finally {
          await pg.destroy();
        }
      });
    } finally {
      if (saved === undefined) Deno.env.delete("PATH");
      else Deno.env.set("PATH", saved);
      await Deno.remove(empty);
    }
  },
});

Deno.test({
  name: "the shared cluster: two isolates asking at once get one cluster, and it is stopped and " +
    "removed when the test process is killed",
  ignore,
  fn: async (t) => {
    // A process standing in for `deno test`: two isolates ask at once, then it waits.
    const probe = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-sys",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        new URL("./shared_cluster_probe.ts", import.meta.url).pathname,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(probe.stderr).text();
    const reader = probe.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let killed = false;
    try {
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      if (!text.includes("\n")) {
        throw new Error(`the probe printed no line: ${text}${await stderr}`);
      }
      const report = JSON.parse(text) as {
        answers: { port: number; socketDir: string; url: string }[];
      };
      const [first, second] = report.answers;

      await t.step("both isolates got the same cluster, each its own database", async () => {
        assert.equal(first.port, second.port);
        assert.equal(first.socketDir, second.socketDir);
        assert.notEqual(first.url, second.url);
        for (const { url } of report.answers) {
          const sql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
          try {
            const [row] = await sql`SELECT current_database() AS name`;
            assert.match(row.name, /^probe_[0-9a-f]{12}$/);
          } finally {
            await sql.end({ timeout: 5 });
          }
        }
      });

      await t.step("SIGKILL of the process: the cluster stops and its folder goes", async () => {
        probe.kill("SIGKILL");
        killed = true;
        assert.equal((await probe.status).signal, "SIGKILL");
        await eventually("the cluster's port is closed", async () => !(await accepts(first.port)));
        await eventually(
          "the cluster's folder is removed",
          async () => !(await exists(first.socketDir)),
        );
      });
    } finally {
      if (!killed) probe.kill("SIGKILL");
      await reader.cancel();
      await stderr;
      await probe.status;
    }
  },
});
