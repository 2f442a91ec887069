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
