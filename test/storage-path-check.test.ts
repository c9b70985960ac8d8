/**
 * Migration 022 rewrote the object-name rule of the audio-recordings policies without a regular
 * expression (which cost ~45 us per name) so that PostgreSQL inlines it. It must accept and reject
 * exactly what 005's expression did: this compares them, and audio_path_project, on a corpus of good
 * names, every kind of near miss, and random strings over the characters that matter.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import type pg from "pg";
import { client, createDatabase } from "./support/harness.ts";

// 005's rule, verbatim: the reference the rewrite is held to.
const RULE =
  "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9]{10,16}_[^/]{1,200}$";

const U1 = "0f8b6c1e-2d3a-4b5c-9d7e-1a2b3c4d5e6f";
const U2 = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d";

function corpus(): string[] {
  const file = (s: string) => `${U1}/${U2}/1732610000000_${s}`;
  const names = [
    file("take.webm"),
    file("x"),
    file("a".repeat(200)),
    file("a".repeat(201)),
    file("ü".repeat(200)),
    file("ü".repeat(201)),
    file("录音 1.mp3"),
    file("a_b_c.ogg"),
    file(""),
    file("a/b"),
    file("line\nbreak"),
    file("trailing\n"),
    `${U1}/${U2}/1234567890_a`,
    `${U1}/${U2}/123456789_a`,
    `${U1}/${U2}/1234567890123456_a`,
    `${U1}/${U2}/12345678901234567_a`,
    `${U1}/${U2}/12345a7890_a`,
    `${U1}/${U2}/_a`,
    `${U1}/${U2}/1234567890a`,
    `${U1}/${U2}/`,
    `${U1}/${U2}`,
    `${U1}/${U2}/1234567890_a/`,
    `/${U1}/${U2}/1234567890_a`,
    `${U1.toUpperCase()}/${U2}/1234567890_a`,
    `${U1}/${U2.replace("a", "A")}/1234567890_a`,
    `{${U1}}/${U2}/1234567890_a`,
    `${U1.replaceAll("-", "")}/${U2}/1234567890_a`,
    `${U1.slice(0, 8)}${U1.slice(9, 10)}-${U1.slice(10)}/${U2}/1234567890_a`,
    `${U1.slice(0, 35)}g/${U2}/1234567890_a`,
    `${U1.slice(0, 35)}é/${U2}/1234567890_a`,
    `${U1}x/${U2}/1234567890_a`,
    `${U1.slice(1)}/${U2}/1234567890_a`,
    `${U1}/${U2}/1234567890_a\u00a0`,
    `${U1}//${U2}/1234567890_a`,
    "",
    "/",
    "//",
    "a/b/c",
  ];
  // Random strings over the characters the rule distinguishes, shaped like names or not.
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const alphabet = ["0", "7", "9", "a", "f", "g", "A", "F", "-", "_", "/", "ü", " ", "\n", "."];
  const mutate = (s: string) => {
    const chars = [...s];
    const at = rnd(chars.length + 1);
    const op = rnd(3);
    const c = alphabet[rnd(alphabet.length)] as string;
    if (op === 0) chars.splice(at, 0, c);
    else if (op === 1) chars.splice(at, 1);
    else chars.splice(at, 1, c);
    return chars.join("");
  };
  for (let i = 0; i < 3000; i++) {
    let s = names[rnd(13)] as string;
    for (let k = rnd(3) + 1; k > 0; k--) s = mutate(s);
    names.push(s);
  }
  for (let i = 0; i < 500; i++) {
    let s = "";
    for (let k = rnd(90); k > 0; k--) s += alphabet[rnd(alphabet.length)];
    names.push(s);
  }
  return names;
}

let c: pg.Client;
before(async () => {
  c = await client((await createDatabase()).url);
});

test("audio_path_user and audio_path_project accept exactly the names 005's expression did", async () => {
  const names = corpus();
  const { rows } = await c.query<{
    name: string;
    user_id: string | null;
    project_id: string | null;
    ok: boolean;
  }>(
    `select n as name, private.audio_path_user(n)::text as user_id, private.audio_path_project(n)::text as project_id,
            n ~ $2 as ok
       from unnest($1::text[]) n`,
    [names, RULE],
  );
  let accepted = 0;
  for (const r of rows) {
    const want = r.ok ? r.name.split("/") : undefined;
    assert.equal(r.user_id, want ? want[0] : null, JSON.stringify(r.name));
    assert.equal(r.project_id, want ? want[1] : null, JSON.stringify(r.name));
    if (r.ok) accepted++;
  }
  // The corpus reaches both sides of the rule in numbers (random edits keep some names valid).
  assert.ok(accepted >= 100, `only ${accepted} accepted names`);
  assert.ok(rows.length - accepted >= 1000, `only ${rows.length - accepted} refused names`);
  assert.equal(await c.query("select private.audio_path_user(null) as u").then((r) => r.rows[0].u), null);
});

test("the policies inline the rule (no call of its own per row)", async () => {
  const { rows } = await c.query<{ plan: string }>(
    `explain (verbose, format text) select 1 from storage.objects o where private.audio_path_project(o.name) is not null`,
  );
  const plan = rows.map((r) => (r as unknown as Record<string, string>)["QUERY PLAN"]).join("\n");
  assert.doesNotMatch(plan, /audio_path_(user|project)|is_canonical_uuid|is_audio_file_part/);
  assert.match(plan, /split_part/);
});
