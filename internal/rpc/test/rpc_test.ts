import assert from "node:assert/strict";
import { connectRpc, type Endpoint, serveRpc } from "../rpc.ts";
import { SequencerError } from "../../domain/domain.ts";

interface Echo {
  echo(value: unknown): unknown;
  fail(): never;
  unclonable(): unknown;
  never(): Promise<never>;
}

const METHODS = ["echo", "fail", "unclonable", "never"] as const;

/** A real MessageChannel whose first port counts the messages posted on it. */
function counted(port: MessagePort): Endpoint & { posted: number } {
  const endpoint = {
    posted: 0,
    postMessage(message: unknown) {
      endpoint.posted++;
      port.postMessage(message);
    },
    get onmessage() {
      return port.onmessage;
    },
    set onmessage(handler: ((event: MessageEvent) => void) | null) {
      port.onmessage = handler;
    },
  };
  return endpoint;
}

function channel(timeoutMs = 60_000) {
  const { port1, port2 } = new MessageChannel();
  const target: Echo = {
    echo: (value) => value,
    fail: () => {
      throw new SequencerError("conflict", "refused on purpose");
    },
    unclonable: () => () => 1,
    never: () => new Promise<never>(() => {}),
  };
  const server = counted(port2);
  serveRpc<Echo>(server, target, METHODS);
  const client = counted(port1);
  const rpc = connectRpc<Echo>(client, METHODS, { peer: "the echo", timeoutMs });
  return {
    rpc,
    client,
    server,
    close() {
      port1.close();
      port2.close();
    },
  };
}

Deno.test("rpc: calls made in one turn cross as one message, in order", async (t) => {
  await t.step("100 calls in one turn are one message each way, answered in order", async () => {
    const c = channel();
    try {
      const calls = Array.from({ length: 100 }, (_, i) => c.rpc.remote.echo(i));
      const answers = await Promise.all(calls);
      assert.deepEqual(answers, Array.from({ length: 100 }, (_, i) => i));
      assert.equal(c.client.posted, 1);
      assert.equal(c.server.posted, 1);
      assert.equal(c.rpc.pending, 0);
    } finally {
      c.close();
    }
  });

  await t.step("calls in separate turns still each get their answer", async () => {
    const c = channel();
    try {
      for (let i = 0; i < 5; i++) assert.equal(await c.rpc.remote.echo(`v${i}`), `v${i}`);
      assert.equal(c.client.posted, 5);
    } finally {
      c.close();
    }
  });

  await t.step("an argument that cannot be cloned fails its call only", async () => {
    const c = channel();
    try {
      const bad = c.rpc.remote.echo(() => 1);
      const good = c.rpc.remote.echo("fine");
      await assert.rejects(bad, (e) => {
        assert.ok(e instanceof SequencerError);
        assert.equal(e.code, "unavailable");
        assert.match(e.message, /echo could not be sent to the echo/);
        return true;
      });
      assert.equal(await good, "fine");
    } finally {
      c.close();
    }
  });

  await t.step("an answer that cannot be cloned reaches the caller as an error", async () => {
    const c = channel();
    try {
      const bad = c.rpc.remote.unclonable();
      const good = c.rpc.remote.echo("fine");
      await assert.rejects(bad, (e) => {
        assert.ok(e instanceof SequencerError);
        assert.equal(e.code, "internal");
        return true;
      });
      assert.equal(await good, "fine");
    } finally {
      c.close();
    }
  });

  await t.step("errors cross as coded errors", async () => {
    const c = channel();
    try {
      await assert.rejects(c.rpc.remote.fail(), (e) => {
        assert.ok(e instanceof SequencerError);
        assert.equal(e.code, "conflict");
        return true;
      });
    } finally {
      c.close();
    }
  });

  await t.step("unanswered calls fail at their deadline; answered ones do not", async () => {
    const c = channel(50);
    try {
      const slow = c.rpc.remote.never();
      const quick = c.rpc.remote.echo(0);
      assert.equal(await quick, 0);
      await assert.rejects(slow, (e) => {
        assert.ok(e instanceof SequencerError);
        assert.equal(e.code, "unavailable");
        assert.match(e.message, /the echo did not answer never within 50 ms/);
        return true;
      });
      assert.equal(c.rpc.pending, 0);
    } finally {
      c.close();
    }
  });

  await t.step("failAll rejects every pending call at once", async () => {
    const c = channel();
    try {
      const waiting = [c.rpc.remote.never(), c.rpc.remote.never()];
      assert.equal(c.rpc.pending, 2);
      c.rpc.failAll(new SequencerError("unavailable", "the other side died"));
      for (const call of waiting) await assert.rejects(call, /the other side died/);
      assert.equal(c.rpc.pending, 0);
    } finally {
      c.close();
    }
  });
});
