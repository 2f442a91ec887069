import assert from "node:assert/strict";
import { formatExportLine, parseExport, parseExportLine } from "../export_lines.ts";
import type { ExportRecord } from "../../store/store.ts";
import { SequencerError } from "../../domain/domain.ts";

Deno.test("export lines carry numbering settings and periods, and read back the same", async (t) => {
  const records: ExportRecord[] = [
    { name: "plain", start: 1n, committed: 9n, floor: 1n, retired: false },
    {
      name: "inv",
      start: 1n,
      committed: 0n,
      floor: 1n,
      retired: false,
      reset: "yearly",
      timezone: "Europe/Paris",
      format: "INV-{YYYY}-{N:6}",
    },
    { name: "inv@2026", start: 1n, committed: 1200n, floor: 1n, retired: false },
    {
      name: "t",
      start: 5n,
      committed: 4n,
      floor: 5n,
      retired: true,
      reset: "never",
      timezone: "UTC",
      format: "T{N}",
    },
  ];

  await t.step("a plain sequence's line is exactly as before", () => {
    assert.equal(
      formatExportLine(records[0]),
      '{"name":"plain","start":"1","committed":"9","floor":"1","retired":false}',
    );
  });

  await t.step("settings and periods round-trip", () => {
    assert.equal(
      formatExportLine(records[1]),
      '{"name":"inv","start":"1","committed":"0","floor":"1","retired":false,"reset":"yearly",' +
        '"timezone":"Europe/Paris","format":"INV-{YYYY}-{N:6}"}',
    );
    const text = records.map(formatExportLine).join("\n") + "\n";
    assert.deepEqual(parseExport(text, "export"), records);
  });

  await t.step("bad settings or period names are refused with the line", () => {
    const bad: [string, RegExp][] = [
      ['{"name":"x","start":"1","committed":"0","floor":"1","retired":false,"reset":5}', /reset=5/],
      [
        '{"name":"x","start":"1","committed":"0","floor":"1","retired":false,"reset":"hourly","timezone":"UTC"}',
        /reset "hourly" is invalid/,
      ],
      ['{"name":"x@1","start":"1","committed":"0","floor":"1","retired":false}', /the name/],
    ];
    for (const [line, message] of bad) {
      assert.throws(() => parseExportLine(line), (error) => {
        assert.ok(error instanceof SequencerError);
        assert.match(error.message, message);
        return true;
      });
    }
  });
});
