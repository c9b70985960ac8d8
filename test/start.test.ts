import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { startEmbedded } from "../src/db/embedded-server.ts";
import { isVpbError } from "../src/errors.ts";
import { runCli } from "./support/cli.ts";
import { ADMIN_URL, MAJOR, ROOT } from "./support/harness.ts";

// The embedded server is PostgreSQL 17 whatever server the pass runs on: run these once.
const once = { skip: MAJOR !== 17 ? "the embedded server is tested in the PostgreSQL 17 pass" : false };
const MIGRATIONS = readdirSync(path.join(ROOT, "database/migrations")).filter((f) =>
  /^\d{3,}_.*\.sql$/.test(f),
);

async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: "127.0.0.1" }, resolve);
  });
  return server;
}

test(
  "`start` initialises, migrates, takes the next port when busy, and stops cleanly on SIGTERM",
  once,
  async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-start-"));
    // Below Linux's ephemeral range (32768+), so that no client socket takes the port meanwhile.
    const port = 21000 + Math.floor(Math.random() * 4000);
    const blocker = await occupy(port);
    // A database-url left readable by others (a copy, an editor) is made 0600 again, not only a new one.
    await writeFile(path.join(dataDir, "database-url"), "stale\n", { mode: 0o644 });
    const env = { ...process.env, DATABASE_URL: "", VPB_DATA_DIR: dataDir, VPB_PG_PORT: String(port) };
    const child = spawn(process.execPath, [path.join(ROOT, "dist/src/cli/main.js"), "start"], {
      cwd: ROOT,
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        stdout += c;
        if (stdout.includes("Press Ctrl-C")) resolve();
      });
      child.once("close", () => reject(new Error(`start exited early:\n${stdout}\n${stderr}`)));
    });
    try {
      assert.match(stderr, /initialising a new PostgreSQL 17 data folder/);
      const chosen = Number(/^port \d+ is in use: using (\d+) instead$/m.exec(stderr)?.[1]);
      assert.ok(chosen > port && chosen < port + 20, stderr);
      assert.match(
        stdout,
        new RegExp(`ready in \\d+ ms: postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${chosen}/postgres`),
      );
      const urlFile = path.join(dataDir, "database-url");
      assert.equal((await stat(urlFile)).mode & 0o777, 0o600);
      const password = JSON.parse(await readFile(path.join(dataDir, "credentials.json"), "utf8"))
        .password as string;
      assert.ok(!stdout.includes(password) && !stderr.includes(password), "the password is never printed");

      const c = new pg.Client({ connectionString: (await readFile(urlFile, "utf8")).trim() });
      await c.connect();
      const applied = await c.query("select count(*)::int as n from vpb_migrate.migrations");
      assert.equal(applied.rows[0].n, MIGRATIONS.length);
      assert.equal(
        (await c.query("select current_setting('server_version_num')::int / 10000 as v")).rows[0].v,
        17,
      );
      await c.query("create table survives_restart (id int)");
      await c.end();

      // Another command attaches to the running server instead of starting a second one.
      const status = await runCli(["migrate", "status"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.doesNotMatch(status.stderr, /starting PostgreSQL/);

      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      blocker.close();
      // On a failed assertion the CLI is still running: let it stop its server before giving up on it.
      if (child.exitCode === null && child.kill("SIGTERM")) {
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        child.kill("SIGKILL");
      }
    }
    assert.match(await readFile(path.join(dataDir, "postgres.log"), "utf8"), /database system is shut down/);
    assert.equal(existsSync(path.join(dataDir, "pg17", "postmaster.pid")), false);

    // A second start reuses the data folder.
    const again = await runCli(["start", "--once"], {
      DATABASE_URL: "",
      VPB_DATA_DIR: dataDir,
      VPB_PG_PORT: String(port),
    });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /initialising/);
    assert.match(again.stderr, /Nothing to do\./);
    assert.equal(existsSync(path.join(dataDir, "pg17", "postmaster.pid")), false);
  },
);

test("bad configuration is reported whole, exit 1, without starting anything", once, async () => {
  const r = await runCli(["migrate", "status"], {
    DATABASE_URL: "mysql://u:topsecret@host/db",
    VPB_PG_PORT: "99",
    VPB_LOCK_TIMEOUT: "later",
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error \[CONFIG_INVALID\]/);
  assert.match(r.stderr, /DATABASE_URL must start with postgres/);
  assert.match(r.stderr, /VPB_PG_PORT/);
  assert.match(r.stderr, /VPB_LOCK_TIMEOUT/);
  assert.match(r.stderr, /remedy:/);
  assert.doesNotMatch(r.stderr, /topsecret/);
});

test("a VPB_DATA_DIR that is a file is a configuration error, not a stack trace", once, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-file-"));
  const file = path.join(dir, "not-a-folder");
  await writeFile(file, "x");
  const r = await runCli(["migrate", "status"], { DATABASE_URL: "", VPB_DATA_DIR: file });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error \[CONFIG_INVALID\]: .*not-a-folder is a file, not a folder/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

test("usage errors exit 2 and --help exits 0", once, async () => {
  assert.equal(
    (await runCli(["migrate", "down", "--steps", "x"], { DATABASE_URL: "postgres://127.0.0.1:1/x" })).code,
    2,
    "a bad argument value is a usage error too",
  );
  assert.equal((await runCli(["migrate", "nonsense"], {})).code, 2);
  const help = await runCli(["migrate", "up", "--help"], {});
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--lock-timeout <duration>/);
});

test(
  "`migrate new` creates the next numbered migration and its rollback, and refuses a bad name",
  once,
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vpb-new-"));
    const env = { VPB_MIGRATIONS_DIR: path.join(dir, "m"), VPB_ROLLBACKS_DIR: path.join(dir, "r") };
    const first = await runCli(["migrate", "new", "add_tags"], env);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli(["migrate", "new", "add_colors"], env);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(readdirSync(env.VPB_MIGRATIONS_DIR).sort(), ["001_add_tags.sql", "002_add_colors.sql"]);
    assert.deepEqual(readdirSync(env.VPB_ROLLBACKS_DIR).sort(), [
      "001_add_tags.down.sql",
      "002_add_colors.down.sql",
    ]);
    const bad = await runCli(["migrate", "new", "Add Tags"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /INVALID_ARGUMENT/);
  },
);

// As root, PostgreSQL runs as the postgres OS user; here the whole CLI runs as that unprivileged user.
const asPostgresUser =
  process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"]).status === 0
    ? once
    : { skip: "needs root and a postgres OS user to switch to" };

test("`start` works for a normal (non-root) user too", asPostgresUser, async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-user-"));
  spawnSync("chown", ["postgres:postgres", dataDir]);
  const r = spawnSync(
    "runuser",
    ["-u", "postgres", "--", process.execPath, path.join(ROOT, "dist/src/cli/main.js"), "start", "--once"],
    {
      cwd: ROOT,
      encoding: "utf8",
      env: {
        ...process.env,
        DATABASE_URL: "",
        VPB_DATA_DIR: dataDir,
        VPB_PG_PORT: String(25500 + Math.floor(Math.random() * 500)),
        HOME: dataDir,
      },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ready in \d+ ms/);
  assert.equal(
    (await stat(path.join(dataDir, "pg17"))).uid,
    Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim()),
  );
});

/** Connects with the server's URL and says which server answered. */
async function answers(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query("select current_setting('data_directory') as d")).rows[0].d;
  } finally {
    await c.end();
  }
}

/** A postmaster.pid as PostgreSQL writes it, naming `pid`, started an hour ago, on `port`. */
const pidFile = (pgData: string, pid: number, port: number) =>
  writeFile(
    path.join(pgData, "postmaster.pid"),
    `${pid}\n${pgData}\n${Math.floor(Date.now() / 1000) - 3600}\n${port}\n\n127.0.0.1\n  5432001  1\nready   \n`,
  );

const postgresIds = () => {
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  return { uid: id("-u"), gid: id("-g") };
};

test(
  "the embedded server: a port taken between probe and bind, reused pids, credentials kept safe",
  once,
  async (t) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "vpb-embedded-"));
    const pgData = path.join(dataDir, "pg17");
    const port = 21000 + Math.floor(Math.random() * 4000);
    const credentials = path.join(dataDir, "credentials.json");

    await t.test(
      "a port taken after the probe, before PostgreSQL binds it, makes it try the next",
      async () => {
        const lines: string[] = [];
        let blocker: Promise<net.Server> | undefined;
        const server = await startEmbedded({
          dataDir,
          port,
          onProgress: (line) => {
            lines.push(line);
            // Another program binds the chosen port right after the probe found it free.
            if (!blocker && line.startsWith("starting PostgreSQL")) blocker = occupy(port);
          },
        });
        try {
          assert.ok(blocker, lines.join("\n"));
          assert.ok(
            lines.includes(
              `port ${port} was taken before PostgreSQL could bind it: using ${port + 1} instead`,
            ),
            lines.join("\n"),
          );
          assert.equal(server.port, port + 1);
          assert.equal(server.portChanged, true);
          assert.equal(await answers(server.url), pgData);
        } finally {
          await server.stop();
          (await blocker)?.close();
        }
      },
    );

    await t.test("credentials.json is made 0600 on every start, not only when created", async () => {
      await chmod(credentials, 0o644);
      const server = await startEmbedded({ dataDir, port });
      await server.stop();
      assert.equal((await stat(credentials)).mode & 0o777, 0o600);
    });

    await t.test(
      "a postmaster.pid naming a live process that is not the server is not attached to",
      async () => {
        const cases = [
          // Runs as the user PostgreSQL runs as, so PostgreSQL itself would refuse the file: it is removed.
          { name: "nothing on the port", port: port + 5, ids: process.getuid?.() === 0 ? postgresIds() : {} },
        ];
        // A PostgreSQL server does answer on that port (the suite's own): only the start time tells.
        if (process.getuid?.() === 0)
          cases.push({ name: "a server on the port", port: Number(new URL(ADMIN_URL).port), ids: {} });
        for (const c of cases) {
          const sleeper = spawn("sleep", ["600"], { stdio: "ignore", ...c.ids });
          try {
            await new Promise((resolve) => sleeper.once("spawn", resolve));
            await pidFile(pgData, sleeper.pid as number, c.port);
            const server = await startEmbedded({ dataDir, port });
            try {
              assert.equal(server.attached, false, c.name);
              assert.notEqual(server.port, c.port, c.name);
              assert.equal(await answers(server.url), pgData, c.name);
            } finally {
              await server.stop();
            }
            assert.equal(sleeper.exitCode, null, "the unrelated process is left alone");
          } finally {
            sleeper.kill();
          }
        }
      },
    );

    await t.test(
      "a credentials file missing a field, unreadable, or gone is refused, never replaced",
      async () => {
        const saved = await readFile(credentials, "utf8");
        const { user } = JSON.parse(saved) as { user: string };
        for (const [text, problem] of [
          [JSON.stringify({ user }), /has no "password"/],
          [JSON.stringify({ password: "x" }), /has no "user"/],
          ["{ not json", /is not valid JSON/],
          [undefined, /is missing/],
        ] as const) {
          if (text === undefined) await rm(credentials);
          else await writeFile(credentials, text);
          await assert.rejects(startEmbedded({ dataDir, port }), (e: unknown) => {
            assert.ok(isVpbError(e, "EMBEDDED_CREDENTIALS_INVALID"), String(e));
            assert.match(e.message, problem);
            assert.match(e.remedy, /Restore the file/);
            return true;
          });
          assert.equal(
            existsSync(credentials) ? await readFile(credentials, "utf8") : undefined,
            text,
            "left as it was",
          );
          assert.equal(existsSync(path.join(pgData, "postmaster.pid")), false, "no server was started");
        }
        await writeFile(credentials, saved);
        const server = await startEmbedded({ dataDir, port });
        await server.stop();
      },
    );
  },
);

test(
  "commands that only read refuse a data folder with no database instead of creating one",
  once,
  async () => {
    const missing = path.join(await mkdtemp(path.join(os.tmpdir(), "vpb-typo-")), "no-such-folder");
    for (const args of [["jobs"], ["inspect"], ["doctor"], ["alerts"], ["migrate", "status"]]) {
      const r = await runCli(args, { DATABASE_URL: "", VPB_DATA_DIR: missing });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /error \[CONFIG_INVALID\]: No database in .*no-such-folder/);
      assert.match(r.stderr, /remedy: Check VPB_DATA_DIR/);
      assert.doesNotMatch(r.stderr, /initialising/);
    }
    assert.equal(existsSync(missing), false, "nothing was created");
  },
);
