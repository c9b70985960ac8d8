import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { cliReference } from "../scripts/cli-reference.ts";
import { loadMatrix, POLICIES_README, renderPoliciesReadme } from "../scripts/policies-docs.ts";
import { DEFAULTS } from "../src/config.ts";
import { ERROR_CODES } from "../src/errors.ts";
import { ROOT } from "./support/harness.ts";

const readme = await readFile(path.join(ROOT, "README.md"), "utf8");

test("the README's CLI reference is the CLI's own --help (npm run docs:cli rewrites it)", () => {
  assert.ok(readme.includes(cliReference()), "README.md CLI reference is stale: run `npm run docs:cli`");
});

test("the configuration table lists every variable with its default", () => {
  for (const [name, value] of Object.entries(DEFAULTS)) {
    assert.ok(new RegExp(`\\|\\s*\`${name}\`\\s*\\|\\s*\`${value}\`\\s*\\|`).test(readme), name);
  }
  assert.ok(/\|\s*`DATABASE_URL`\s*\|/.test(readme));
  assert.ok(/\|\s*`VPB_BACKUP_DIR`\s*\|/.test(readme));
});

test("the error table lists every error code", () => {
  for (const code of Object.keys(ERROR_CODES)) {
    assert.ok(new RegExp(`\\|\\s*\`${code}\`\\s*\\|`).test(readme), `README lacks error code ${code}`);
  }
});

test("database/policies/README.md is the access matrix's own rendering (npm run docs:policies)", async () => {
  const rendered = renderPoliciesReadme(await loadMatrix());
  assert.ok((await readFile(POLICIES_README, "utf8")) === rendered, "run `npm run docs:policies`");
});
