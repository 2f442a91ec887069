/**
 * Reference rows for the benchmark, measured only when the programs are installed: nginx
 * answering a constant JSON body (what serving costs with no number at all) and Redis `INCR`
 * (the counter most teams would reach for). Neither is started from the system's service
 * manager: each runs in a temporary folder on a free port and is killed afterwards.
 *
 * @module
 */
import { installed, run } from "./commands.ts";
import { freePort, waitForPort } from "../launch/ports.ts";

/** One reference measurement. */
export interface Reference {
  /** What was measured, for the table. */
  name: string;
  /** The command line that measured it. */
  command: string;
  /** Requests (or commands) per second. */
  rps: number;
  /** Why it was not measured, when it was not. */
  skipped?: string;
}

/** The nginx configuration of the reference: `processes` workers, one constant JSON answer. */
export function nginxConfig(dir: string, port: number, processes: number): string {
  return `daemon off;
master_process on;
worker_processes ${processes};
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} reuseport;
    location / {
      default_type application/json;
      return 200 '{"status":"ok","sequence":{"number":1}}';
    }
  }
}
`;
}

/**
 * nginx returning the seed's body as a constant, with `processes` workers, loaded by `load`
 * (the benchmark's wrk); skipped when nginx is not installed.
 */
export async function measureNginx(
  processes: number,
  load: (url: string) => Promise<number>,
  wrkCommand: string,
): Promise<Reference> {
  const name = `nginx returning a constant body, ${processes} worker process(es)`;
  const nginx = await installed("nginx");
  if (nginx === undefined) {
    return { name, command: "", rps: 0, skipped: "nginx is not installed" };
  }
  return await withServer("sequencer-bench-nginx-", {
    async spawn(dir, port) {
      const conf = `${dir}/nginx.conf`;
      await Deno.writeTextFile(conf, nginxConfig(dir, port, processes));
      return new Deno.Command(nginx, {
        args: ["-p", dir, "-c", conf],
        stdout: "null",
        // nginx's own errors (a port taken, a bad configuration) show on the bench's stderr.
        stderr: "inherit",
      }).spawn();
    },
    async use(port) {
      const url = `http://127.0.0.1:${port}/`;
      return { name, command: `${wrkCommand} ${url}`, rps: await load(url) };
    },
  });
}

/** Reads `"INCR","48123.45",…` from `redis-benchmark --csv`. */
export function parseRedisCsv(text: string): number | undefined {
  for (const line of text.split("\n")) {
    const cells = line.split(",").map((c) => c.replace(/^"|"$/g, "").trim());
    if (cells[0] === "INCR") {
      const rps = Number(cells[1]);
      return Number.isFinite(rps) ? rps : undefined;
    }
  }
  return undefined;
}

/**
 * Redis `INCR` with `clients` connections (redis-benchmark, no pipelining), persistence off;
 * skipped when redis-server or redis-benchmark is not installed.
 */
export async function measureRedis(clients: number, seconds: number): Promise<Reference> {
  const name = `Redis INCR (redis-benchmark, ${clients} clients, no persistence)`;
  const server = await installed("redis-server");
  const bench = await installed("redis-benchmark");
  if (server === undefined || bench === undefined) {
    return { name, command: "", rps: 0, skipped: "redis-server or redis-benchmark is missing" };
  }
  return await withServer("sequencer-bench-redis-", {
    spawn: (dir, port) =>
      new Deno.Command(server, {
        args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd: dir,
        stdout: "null",
        stderr: "null",
      }).spawn(),
    async use(port): Promise<Reference> {
      // Sized for about `seconds` at Redis's usual rate on such a machine.
      const requests = Math.max(10_000, Math.round(seconds * 50_000));
      const args = [
        "-p",
        String(port),
        "-t",
        "incr",
        "-c",
        String(clients),
        "-n",
        String(requests),
      ];
      const rps = parseRedisCsv((await run(bench, [...args, "--csv"])).out);
      if (rps === undefined) {
        return { name, command: "", rps: 0, skipped: `redis-benchmark printed no INCR rate` };
      }
      return { name, command: `redis-benchmark ${args.join(" ")}`, rps };
    },
  });
}

/**
 * Starts a server program in a fresh temporary folder on a free port, runs `use` once it accepts
 * connections, then stops it (SIGTERM) and removes the folder.
 */
async function withServer<T>(
  prefix: string,
  options: {
    spawn(dir: string, port: number): Deno.ChildProcess | Promise<Deno.ChildProcess>;
    use(port: number): Promise<T>;
  },
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    const port = freePort();
    const child = await options.spawn(dir, port);
    try {
      await waitForPort(port);
      return await options.use(port);
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
