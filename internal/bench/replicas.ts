/**
 * Three replicas on a private PostgreSQL against the one replica on the embedded store, side by
 * side; skipped with a reason when PostgreSQL cannot run here.
 *
 * @module
 */
import { type PgInstance, postgresAvailability, startPostgres } from "../launch/postgres.ts";
import { type ServiceProcess, startService } from "../launch/service.ts";
import { run } from "./commands.ts";
import { k, ratio, totalRps } from "./stats.ts";
import { type ReplicaResult, type ReplicaRound, REPLICAS } from "./result.ts";
import { wrk, type WrkOptions } from "./wrk.ts";

/** A private PostgreSQL and its version line. */
export type BenchPostgres = { pg: PgInstance; version: string };

/** Starts a private PostgreSQL for the three-replica row, or says why it cannot run here. */
export async function startBenchPostgres(): Promise<BenchPostgres | { skipped: string }> {
  const availability = await postgresAvailability();
  if (!availability.ok) return { skipped: availability.reason };
  const pg = await startPostgres();
  if ("skipped" in pg) return pg;
  const out = (await run(`${availability.bindir}/postgres`, ["--version"])).out;
  const version = /\d+(\.\d+)+/.exec(out)?.[0];
  return { pg, version: version === undefined ? "PostgreSQL" : `PostgreSQL ${version}` };
}

/**
 * Three replicas on one fresh database of `pg`, each loaded by its own wrk, all at the same time;
 * alternating round by round with the same three wrk processes all loading the embedded-store
 * replica `single`. Both sides get the same clients, so only the servers differ.
 */
export async function measureReplicas(
  postgres: BenchPostgres,
  single: string,
  options: WrkOptions & { rounds: number },
): Promise<ReplicaResult> {
  const { rounds, connections } = options;
  const url = await postgres.pg.createDatabase("bench_replicas");
  const perClient = Math.max(1, Math.round(connections / REPLICAS));
  const replicas: ServiceProcess[] = [];
  const rows: ReplicaRound[] = [];
  try {
    for (let i = 0; i < REPLICAS; i++) {
      replicas.push(await startService({ DATABASE_URL: url, WORKERS: "1" }));
    }
    const load = (targets: string[], seconds: number) =>
      Promise.all(
        targets.map((api) =>
          wrk(`${api}/v1/sequence`, { ...options, seconds, connections: perClient })
        ),
      );
    const three = (s: number) => load(replicas.map((r) => r.api), s);
    const one = (s: number) => load(replicas.map(() => single), s);
    await three(2); // warm up: JIT, first blocks, block sizes grown
    for (let round = 1; round <= rounds; round++) {
      // Alternate which goes first, so drift in the machine's load does not favour one side.
      const first = round % 2 === 1;
      const a = first ? await three(options.seconds) : undefined;
      const b = await one(options.seconds);
      const t = a ?? await three(options.seconds);
      rows.push({ round, three: t, one: b });
      console.error(
        `replicas round ${round}: three on PostgreSQL ${k(totalRps(t))} req/s, one embedded ${
          k(totalRps(b))
        } req/s, ratio ${ratio(totalRps(t) / totalRps(b))}`,
      );
    }
  } finally {
    for (const replica of replicas) replica.kill("SIGTERM");
    await Promise.all(replicas.map((r) => r.status));
  }
  return { rounds: rows, perClient, postgres: postgres.version };
}
