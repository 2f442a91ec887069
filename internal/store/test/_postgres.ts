/**
 * Helpers of the tests on PostgreSQL in this folder: the shared cluster, its log on failure, and
 * a plain connection for looking behind the store.
 *
 * @module
 */
import postgres from "postgres";
import { type SharedPostgres, sharedPostgres } from "../../launch/test_cluster.ts";

/** Prints the last 30 lines of the server's log (after a failure). */
export async function printLog(pg: { log(): Promise<string> }): Promise<void> {
  const log = await pg.log();
  console.error(`private PostgreSQL log:\n${log.split("\n").slice(-30).join("\n")}`);
}

/** Runs `body` against the cluster shared by the test run; prints its log when `body` fails. */
export async function withSharedPostgres(
  body: (pg: SharedPostgres) => Promise<void>,
): Promise<void> {
  const pg = await sharedPostgres();
  try {
    await body(pg);
  } catch (error) {
    await printLog(pg);
    throw error;
  }
}

/** Runs `body` with a plain connection to `url`, for looking behind the store. */
export async function withSql<T>(
  url: string,
  body: (sql: postgres.Sql) => Promise<T>,
): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
  try {
    return await body(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
