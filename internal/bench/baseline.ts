/**
 * The benchmark's baseline: a bare `Deno.serve` answering the seed's JSON from an in-memory
 * counter, nothing else. With `WORKERS` > 1 it runs that many listeners on one port with
 * `reusePort` and a shared `Atomics` counter, exactly as the service does, so the ratio measures
 * what durability, routing and the rest cost, not the thread count. With `NO_STORE=1` it also
 * sends the service's `cache-control: no-store`.
 *
 * Prints `{"port": N}` once every listener is up.
 *
 * @module
 */
/// <reference lib="deno.worker" />

interface Start {
  counter: SharedArrayBuffer;
  port: number;
}

// `NO_STORE=1` answers with the same two headers as the service (built the same way), to
// separate what the header costs in Deno from what the service's own code costs.
const HEADERS = Deno.env.get("NO_STORE") === "1"
  ? new Headers({ "content-type": "application/json", "cache-control": "no-store" })
  : { "content-type": "application/json" };

function listen(counter: BigInt64Array, port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    port,
    hostname: "0.0.0.0",
    reusePort: true,
    onListen: () => {},
    handler: () =>
      new Response(
        '{"status":"ok","sequence":{"number":' + (Atomics.add(counter, 0, 1n) + 1n) + "}}",
        { headers: HEADERS },
      ),
  });
}

if (!("WorkerGlobalScope" in globalThis)) {
  const workers = Number(Deno.env.get("WORKERS") ?? "1");
  const counter = new SharedArrayBuffer(8);
  // One listener thread on `port`; resolves with the port it listens on.
  const spawn = (port: number) =>
    new Promise<number>((resolve) => {
      const worker = new Worker(import.meta.url, { type: "module" });
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage({ counter, port } satisfies Start);
    });
  const first = await spawn(Number(Deno.env.get("PORT") ?? "0"));
  await Promise.all(Array.from({ length: workers - 1 }, () => spawn(first)));
  console.log(JSON.stringify({ port: first }));
} else {
  self.onmessage = (e: MessageEvent<Start>) => {
    const server = listen(new BigInt64Array(e.data.counter), e.data.port);
    self.postMessage(server.addr.port);
  };
}
