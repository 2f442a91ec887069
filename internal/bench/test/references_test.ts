import assert from "node:assert/strict";
import { nginxConfig, parseRedisCsv } from "../references.ts";

Deno.test("reference helpers", async (t) => {
  await t.step("redis-benchmark --csv: the INCR rate is read, other tests ignored", () => {
    const csv = [
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms"',
      '"PING_INLINE","51234.00","0.700","0.100","0.650"',
      '"INCR","48123.45","0.750","0.120","0.700"',
    ].join("\n");
    assert.equal(parseRedisCsv(csv), 48123.45);
    assert.equal(parseRedisCsv('"PING_INLINE","1.00"'), undefined);
    assert.equal(parseRedisCsv('"INCR","n/a"'), undefined);
  });

  await t.step("the nginx configuration stays in its folder and answers the seed's body", () => {
    const conf = nginxConfig("/tmp/x", 4321, 2);
    assert.match(conf, /worker_processes 2;/);
    assert.match(conf, /listen 127\.0\.0\.1:4321 reuseport;/);
    assert.match(conf, /return 200 '\{"status":"ok","sequence":\{"number":1\}\}';/);
    for (const line of conf.split("\n").filter((l) => /_path |^pid /.test(l.trim()))) {
      assert.match(line, /\/tmp\/x\//, `writes outside its folder: ${line}`);
    }
  });
});
