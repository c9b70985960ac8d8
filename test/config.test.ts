import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { parseConfig, parseDuration, redactUrl } from "../src/config.ts";
import { isVpbError } from "../src/errors.ts";
import { PACKAGE_ROOT } from "../src/package-root.ts";

test("defaults: embedded server in .vpb on port 54329, 10s lock timeout, no statement timeout", () => {
  const c = parseConfig({}, "/srv/app");
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.dataDir, path.resolve("/srv/app/.vpb"));
  assert.equal(c.port, 54329);
  // vpb-db's own migrations wherever the command runs from (an app that depends on it).
  assert.equal(c.migrationsDir, path.join(PACKAGE_ROOT, "database/migrations"));
  assert.equal(c.appMigrationsDir, undefined);
  const app = parseConfig(
    { VPB_APP_MIGRATIONS_DIR: "db/migrations", VPB_MIGRATIONS_DIR: "mine" },
    "/srv/app",
  );
  assert.equal(app.appMigrationsDir, path.resolve("/srv/app/db/migrations"));
  assert.equal(app.appRollbacksDir, path.resolve("/srv/app/db/rollbacks"));
  assert.equal(app.migrationsDir, path.resolve("/srv/app/mine"), "a value given is the working folder's");
  assert.equal(c.lockTimeout, "10000ms");
  assert.equal(c.statementTimeout, "0ms");
  assert.equal(c.migrationLockWaitMs, 60_000);
});

test("every problem is reported at once, and a bad DATABASE_URL is never echoed", () => {
  const secret = "postgres://u:s3cret@[bad";
  assert.throws(
    () => parseConfig({ DATABASE_URL: secret, VPB_PG_PORT: "80", VPB_LOCK_TIMEOUT: "soon" }, "/"),
    (e: unknown) => {
      assert.ok(isVpbError(e, "CONFIG_INVALID"));
      assert.match(e.message, /DATABASE_URL/);
      assert.match(e.message, /VPB_PG_PORT/);
      assert.match(e.message, /VPB_LOCK_TIMEOUT/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    },
  );
});

test("durations accept ms, s, min, h and d", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("3s"), 3000);
  assert.equal(parseDuration("2min"), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("-1s"), undefined);
});

test("redactUrl hides the password and secret-looking parameters", () => {
  const shown = redactUrl("postgres://app:hunter2@db.example:5432/app?sslmode=require&sslpassword=x");
  assert.doesNotMatch(shown, /hunter2/);
  assert.match(shown, /app:\*\*\*@db\.example:5432\/app/);
  assert.match(shown, /sslpassword=\*\*\*/);
  assert.match(shown, /sslmode=require/);
});

test("VPB_DASHBOARD_PORT: 54323 by default, 0 for any free port, anything else below 1024 refused", () => {
  assert.equal(parseConfig({}, "/").dashboardPort, 54323);
  assert.equal(parseConfig({ VPB_DASHBOARD_PORT: "0" }, "/").dashboardPort, 0);
  for (const bad of ["80", "70000", "web"]) {
    assert.throws(
      () => parseConfig({ VPB_DASHBOARD_PORT: bad }, "/"),
      (e: unknown) => isVpbError(e, "CONFIG_INVALID") && /VPB_DASHBOARD_PORT must be 0/.test(e.message),
    );
  }
});

test("storage driver: disk by default; s3 from VPB_S3_*, every problem named, no key echoed", () => {
  assert.deepEqual(parseConfig({}, "/").storage, { driver: "disk" });
  const s3 = parseConfig(
    {
      VPB_STORAGE_DRIVER: "s3",
      VPB_S3_BUCKET: "vpb-audio",
      VPB_S3_ENDPOINT: "http://127.0.0.1:9000",
      VPB_S3_FORCE_PATH_STYLE: "true",
      VPB_S3_PREFIX: "prod/",
      VPB_S3_ACCESS_KEY_ID: "AKIDEXAMPLE",
      VPB_S3_SECRET_ACCESS_KEY: "wJalrXUtnFEMI",
    },
    "/",
  ).storage;
  assert.deepEqual(s3, {
    driver: "s3",
    s3: {
      bucket: "vpb-audio",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      prefix: "prod/",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI" },
    },
  });
  assert.throws(
    () =>
      parseConfig(
        {
          VPB_STORAGE_DRIVER: "s3",
          VPB_S3_BUCKET: "Not_A_Bucket",
          VPB_S3_ENDPOINT: "ftp://user:wJalrXUtnFEMI@host",
          VPB_S3_FORCE_PATH_STYLE: "yes",
          VPB_S3_PREFIX: "../x",
          VPB_S3_SECRET_ACCESS_KEY: "wJalrXUtnFEMI",
        },
        "/",
      ),
    (e: unknown) => {
      assert.ok(isVpbError(e, "CONFIG_INVALID"));
      for (const name of [
        "VPB_S3_BUCKET",
        "VPB_S3_ENDPOINT",
        "VPB_S3_FORCE_PATH_STYLE",
        "VPB_S3_PREFIX",
        "VPB_S3_ACCESS_KEY_ID",
      ])
        assert.match(e.message, new RegExp(name));
      assert.doesNotMatch(e.message, /wJalrXUtnFEMI/);
      return true;
    },
  );
  assert.throws(
    () => parseConfig({ VPB_STORAGE_DRIVER: "ftp" }, "/"),
    /VPB_STORAGE_DRIVER must be disk or s3/,
  );
});

test("backup retention and archive_timeout: defaults, and bad values named", () => {
  const c = parseConfig({}, "/srv/app");
  assert.equal(c.backupKeep, 7);
  assert.equal(c.archiveTimeoutSeconds, 300);
  const set = parseConfig({ VPB_BACKUP_KEEP: "3", VPB_ARCHIVE_TIMEOUT: "30s" }, "/");
  assert.equal(set.backupKeep, 3);
  assert.equal(set.archiveTimeoutSeconds, 30);
  assert.throws(
    () => parseConfig({ VPB_BACKUP_KEEP: "0", VPB_ARCHIVE_TIMEOUT: "0" }, "/"),
    (e: unknown) => {
      assert.ok(isVpbError(e, "CONFIG_INVALID"));
      assert.match(e.message, /VPB_BACKUP_KEEP/);
      assert.match(e.message, /VPB_ARCHIVE_TIMEOUT/);
      return true;
    },
  );
});

test("signed URL lifetimes: 2 h for an upload URL and at most 7 days for a download URL by default; bad values named", () => {
  assert.deepEqual(parseConfig({}, "/").signedUrls, { uploadSeconds: 7200, downloadMaxSeconds: 604_800 });
  assert.deepEqual(
    parseConfig({ VPB_STORAGE_UPLOAD_URL_TTL: "10min", VPB_STORAGE_SIGNED_URL_MAX: "30d" }, "/").signedUrls,
    { uploadSeconds: 600, downloadMaxSeconds: 2_592_000 },
  );
  for (const [key, value] of [
    ["VPB_STORAGE_UPLOAD_URL_TTL", "0"],
    ["VPB_STORAGE_UPLOAD_URL_TTL", "8d"],
    ["VPB_STORAGE_UPLOAD_URL_TTL", "1500ms"],
    ["VPB_STORAGE_SIGNED_URL_MAX", "366d"],
    ["VPB_STORAGE_SIGNED_URL_MAX", "soon"],
  ] as const) {
    assert.throws(
      () => parseConfig({ [key]: value }, "/"),
      (e: unknown) => isVpbError(e, "CONFIG_INVALID") && e.message.includes(`${key} must be whole seconds`),
      `${key}=${value}`,
    );
  }
});
