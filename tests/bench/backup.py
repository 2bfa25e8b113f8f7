#!/usr/bin/python3
"""Backup and restore benchmarks against live backends (docs/design.md §9),
run by bench-backup.sh once it has started private services:

    backup.py --pg-port P --s3-port P --docker-sock PATH --master-key FILE
              --work DIR [--runs 5] [--big-runs 3] [--record FILE]
              [--mb 1024] [--envs 1000]

On one schema of --mb MiB (pg_total_relation_size of its tables, with
their indexes and TOAST), filled in SQL with several tables of text,
numeric, timestamps and jsonb whose text is random (md5 and SHA-256 of
random(), in hex and base64: zlib gets it to about half, not to nothing):

1. `pg_dump -Fc --schema=S > /dev/null` and `pressctl backup run SRC --env
   SITE/ENV`, taken in turns (so that a load on the machine falls on both);
   the throughput ratio is pg_dump's median / pressctl's (target >= 0.8).
   pg_dump is the one pressctl runs (PRESS_PG_BINDIR, else PATH) with the
   settings pressctl gives it (PG* variables from the DSN, -Fc,
   --no-password, the schema quoted), only without pressctl's --snapshot.
   pressctl's figure is all of the backup: its row counts and checksums of
   every table (a full read in the dump's snapshot), that pg_dump streamed
   through SHA-256 into a multipart upload to s3rver, the dump read back
   and checked, the manifest, the catalog and the journal.
2. pressctl's own peak RSS during the backup (target <= 64 MiB): not
   wait4()'s ru_maxrss, which is the largest of pressctl and the children
   it waited for (pg_dump), but the high-water mark of pressctl's own
   memory, read at its exit under ptrace (ownrss.py). pg_dump's own peak,
   measured the same way in its runs of 1, is printed for comparison.
3. Restore: `pg_restore --no-owner --no-privileges --single-transaction -d
   DB FILE` of a local -Fc dump of the same schema into a new, empty
   database, against `pressctl restore SRC SITE/ENV --backup ID --into
   SITE/ENVk` into a new environment (declared and applied, so its schema
   is there and empty), in turns; ratio pressctl / pg_restore (target <=
   1.5). pg_restore runs with the options pressctl gives it, in one
   transaction as pressctl's restore is. pressctl's figure is all of the
   restore: the backup of the empty target first, the dump read from
   s3rver and checked as it streams, pg_restore's SQL through psql in one
   transaction, ownership and grants, the row counts and checksums of
   every table compared with the manifest (a full read), the swap of the
   schemas, the journal.
4. The backup of one small environment (3 tables, about a MiB) in a
   database that holds only it, then again after --envs more environments
   were applied next to it (role, schema, bucket each; `replicas: 0`, no
   container) and each schema got 4 tables with a few rows, indexes and
   sequences: median of --runs after a warm-up each time, and their ratio
   (no target: it says what a crowded cluster costs). Each backup follows
   a `pg_dump -Fc --schema` of the same schema, whose medians and ratio
   are printed too: pg_dump reads the catalog of the whole database, so
   part of the cost of a crowd is PostgreSQL's, not pressctl's. The other
   environments have no backups. This part runs in a database of its own.

The 1 GiB measurements (1 and 3) take --big-runs runs each (default
min(3, --runs)), no warm-up: the schema was just written and vacuumed, so
it is in the page cache for every run alike. Timing never fails: only a
command that fails does (exit 1).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from converge import free_block, write_config  # noqa: E402
from ownrss import run_traced  # noqa: E402

TARGET_THROUGHPUT = 0.8   # pg_dump time / pressctl backup time, at least
TARGET_RSS = 64.0         # MiB, pressctl's own, at most
TARGET_RESTORE = 1.5      # pressctl restore time / pg_restore time, at most
SCALE_TABLES = 4          # tables of each of the --envs schemas

DATA_TABLES = """\
CREATE TABLE customers (
  id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL,
  city text, balance numeric(14,2), created timestamptz, notes text);
CREATE TABLE orders (
  id bigint PRIMARY KEY, customer_id bigint NOT NULL, placed timestamptz NOT NULL,
  status text NOT NULL, total numeric(12,2), items int, ref text);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE events (
  id bigint PRIMARY KEY, order_id bigint NOT NULL, kind text NOT NULL,
  at timestamptz NOT NULL, payload jsonb NOT NULL);
CREATE TABLE documents (
  id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL,
  version int NOT NULL, updated timestamptz NOT NULL);
"""

# One chunk: customers (c0, c1], and 3 orders, 3 events and 1/4 document
# per customer. Random text: md5 (hex) and sha256 (base64) of random().
DATA_CHUNK = """\
INSERT INTO customers
  SELECT g, initcap(substr(md5(random()::text), 1, 6 + (g % 7))) || ' ' ||
            initcap(substr(md5(random()::text), 1, 5 + (g % 9))),
         substr(md5(random()::text), 1, 12) || '@' ||
            substr(md5(random()::text), 1, 8) || '.example',
         (ARRAY['Berlin','Lagos','Lima','Osaka','Perth','Quito','Oslo','Pune'])[1 + g % 8],
         round((random() * 100000)::numeric, 2),
         '2020-01-01'::timestamptz + random() * interval '2000 days',
         encode(sha256(random()::text::bytea), 'base64') || md5(random()::text)
    FROM generate_series({c0} + 1, {c1}) g;
INSERT INTO orders
  SELECT g, {c0} + 1 + (g % ({c1} - {c0})),
         '2021-01-01'::timestamptz + random() * interval '1500 days',
         (ARRAY['new','paid','shipped','returned','cancelled'])[1 + (random() * 4)::int],
         round((random() * 5000)::numeric, 2), 1 + (random() * 20)::int,
         'R-' || upper(substr(md5(random()::text), 1, 16))
    FROM generate_series(3 * {c0} + 1, 3 * {c1}) g;
INSERT INTO events
  SELECT g, 3 * {c0} + 1 + (g % (3 * ({c1} - {c0}))),
         (ARRAY['view','cart','checkout','refund','note'])[1 + g % 5],
         '2021-01-01'::timestamptz + random() * interval '1500 days',
         jsonb_build_object(
           'sku', substr(md5(random()::text), 1, 10),
           'qty', (random() * 10)::int,
           'price', round((random() * 300)::numeric, 2),
           'ip', (random() * 255)::int || '.' || (random() * 255)::int || '.' ||
                 (random() * 255)::int || '.' || (random() * 255)::int,
           'agent', encode(sha256(random()::text::bytea), 'base64'),
           'tags', jsonb_build_array(substr(md5(random()::text), 1, 6),
                                     substr(md5(random()::text), 1, 8)),
           'meta', jsonb_build_object('session', md5(random()::text),
                                      'score', random()))
    FROM generate_series(3 * {c0} + 1, 3 * {c1}) g;
INSERT INTO documents
  SELECT g, initcap(substr(md5(random()::text), 1, 20)),
         array_to_string(ARRAY(
           SELECT encode(sha256((random()::text || g)::bytea), 'base64')
             FROM generate_series(1, 20 + g % 20)), ' '),
         1 + g % 5, '2022-01-01'::timestamptz + random() * interval '900 days'
    FROM generate_series({c0} / 4 + 1, {c1} / 4) g;
"""

SMALL_TABLES = """\
CREATE TABLE posts (id serial PRIMARY KEY, title text, body text, at timestamptz);
INSERT INTO posts (title, body, at)
  SELECT md5(random()::text), repeat(md5(random()::text), 8), now() FROM generate_series(1, 2000);
CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, meta jsonb);
INSERT INTO users (email, meta)
  SELECT 'u' || g || '@example.org', jsonb_build_object('n', g, 'k', md5(g::text))
    FROM generate_series(1, 500) g;
CREATE TABLE options (name text PRIMARY KEY, value text);
INSERT INTO options SELECT 'opt' || g, md5(g::text) FROM generate_series(1, 200) g;
"""

# The tables of each crowd schema, created as its role (so owned by it).
SCALE_SQL = """\
SET ROLE {role};
CREATE TABLE {schema}.items (id serial PRIMARY KEY, name text NOT NULL, at timestamptz);
CREATE INDEX ON {schema}.items (name);
CREATE TABLE {schema}.users (id serial PRIMARY KEY, email text UNIQUE, meta jsonb);
CREATE TABLE {schema}.settings (key text PRIMARY KEY, value text);
CREATE TABLE {schema}.log (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), line text);
INSERT INTO {schema}.items (name, at) SELECT md5(g::text), now() FROM generate_series(1, 20) g;
INSERT INTO {schema}.settings VALUES ('siteurl', 'http://example.org'), ('lang', 'en');
RESET ROLE;
"""


def fail(what, text=""):
    if text:
        sys.stderr.write(text[-6000:])
    print("bench-backup: FAILED: %s" % what, file=sys.stderr)
    sys.exit(1)


def tool(name):
    """A PostgreSQL client tool as pressctl finds it (driver/pgdump.c):
    PRESS_PG_BINDIR/name, else the first on PATH."""
    bindir = os.environ.get("PRESS_PG_BINDIR")
    if bindir:
        p = os.path.join(bindir, name)
        if not os.access(p, os.X_OK):
            fail("no %s in PRESS_PG_BINDIR (%s)" % (name, bindir))
        return p
    for d in (os.environ.get("PATH") or "/usr/bin:/bin").split(":"):
        p = os.path.join(d or ".", name)
        if os.access(p, os.X_OK):
            return p
    fail("no %s on PATH (install postgresql-client or set PRESS_PG_BINDIR)" % name)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work)
        self.record = args.record
        self.ports = {}

    # --- environments of the commands ------------------------------------

    def dsn(self, db):
        return f"postgresql://postgres@127.0.0.1:{self.args.pg_port}/{db}"

    def pressctl_env(self, db="press"):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PRESS_", "GIT_", "PG"))}
        if os.environ.get("PRESS_PG_BINDIR"):
            env["PRESS_PG_BINDIR"] = os.environ["PRESS_PG_BINDIR"]
        env.update({
            "PRESS_PG_DSN": self.dsn(db),
            "PRESS_S3_ACCESS_KEY": "S3RVER",
            "PRESS_S3_SECRET_KEY": "S3RVER",
            "DOCKER_HOST": f"unix://{self.args.docker_sock}",
            "LC_ALL": "C.UTF-8",
        })
        return env

    def pg_env(self, db="press"):
        """What pressctl gives its client tools for this DSN (driver/pgdump.c
        child_env): no PG* of ours, the DSN's settings as PG* variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"PGHOST": "127.0.0.1", "PGPORT": str(self.args.pg_port),
                    "PGUSER": "postgres", "PGDATABASE": db,
                    "PGAPPNAME": "pressctl", "LC_ALL": "C.UTF-8"})
        return env

    # --- running things ---------------------------------------------------

    def psql(self, sql, db="press"):
        """SQL as the superuser; stdout (psql -At) without the last newline."""
        proc = subprocess.run(
            [tool("psql"), "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            input=sql, env=self.pg_env(db), capture_output=True, text=True)
        if proc.returncode != 0:
            fail("psql exited with status %d on: %s" % (proc.returncode, sql[:300]),
                 proc.stderr)
        return proc.stdout.rstrip("\n")

    def pressctl(self, *cmd, db="press"):
        """pressctl once, untimed work; exits 1 when it fails."""
        t0 = time.perf_counter()
        proc = subprocess.run([self.args.pressctl, *map(str, cmd)],
                              env=self.pressctl_env(db), capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            fail("pressctl %s exited with status %d"
                 % (" ".join(map(str, cmd)), proc.returncode),
                 proc.stdout[-3000:] + proc.stderr[-5000:])
        return proc, time.perf_counter() - t0

    def timed(self, label, argv, env, stdout=None):
        """One timed run of a client tool; seconds."""
        t0 = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=stdout or subprocess.DEVNULL,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
        if proc.returncode != 0:
            fail("%s: '%s' exited with status %d" % (label, " ".join(argv), proc.returncode),
                 proc.stderr.decode("utf-8", "replace"))
        return secs

    def traced(self, label, argv, env, stdout=None):
        """One timed run under ownrss: (seconds, own peak RSS in MiB)."""
        try:
            secs, own, _, rc, text = run_traced(argv, env=env, stdout=stdout)
        except OSError as exc:
            fail("%s: cannot run %s under ptrace for its own peak RSS: %s"
                 % (label, argv[0], exc))
        if rc != 0:
            fail("%s: '%s' exited with status %d" % (label, " ".join(argv), rc), text)
        return secs, (own or 0) / 1024.0

    def pressctl_traced(self, label, cmd, db="press"):
        return self.traced(label, [self.args.pressctl, *map(str, cmd)],
                           self.pressctl_env(db))

    def pg_dump_traced(self, schema, db="press"):
        """pg_dump -Fc of schema > /dev/null, as pressctl runs it."""
        with open(os.devnull, "wb") as null:
            return self.traced("pg_dump", [tool("pg_dump"), "-Fc", "--no-password",
                                           f'--schema="{schema}"'],
                               self.pg_env(db), stdout=null)

    def put_record(self, label, median, rss):
        if self.record:
            with open(self.record, "a", encoding="utf-8") as f:
                f.write("%s\t%.6f\t%.1f\n" % (label, median, rss))

    # --- setup --------------------------------------------------------------

    def config(self, name, prefix, n_crowd, docs):
        """A config repo: write_config's platform and n_crowd environments
        (replicas 0), plus docs (YAML text) in extra.yaml."""
        if name not in self.ports:
            self.ports[name] = free_block(20)
        out = write_config(self.work / name, self.args, f"bench-{name}", prefix,
                           n_crowd, 0, self.ports[name])
        (out / "extra.yaml").write_text("---\n".join(docs), encoding="utf-8")
        return out

    def schema_bytes(self, schema, db="press"):
        return int(self.psql(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = '{schema}' AND c.relkind IN ('r', 'm')", db))

    def owner(self, schema, db="press"):
        return self.psql(f"SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                         f"WHERE nspname = '{schema}'", db)

    def fill(self, schema, mb):
        """Tables of about mb MiB in schema, created as its role; then
        VACUUM (FREEZE, ANALYZE), as a settled database is."""
        role = self.owner(schema)
        target = mb * 1024 * 1024
        t0 = time.perf_counter()
        self.psql(f'SET ROLE "{role}"; SET search_path = "{schema}";\n' + DATA_TABLES)
        # A small first chunk measures the bytes per customer; the others
        # aim at about 32 chunks in all.
        c0, step, size = 0, 2000, 0
        while size < target:
            c1 = c0 + step
            self.psql(f'SET ROLE "{role}"; SET search_path = "{schema}";\n'
                      + DATA_CHUNK.format(c0=c0, c1=c1))
            size = self.schema_bytes(schema)
            if c0 == 0:
                per = max(size / step, 1.0)
                step = max(2000, int(target / 32 / per) // 4 * 4)
            c0 = c1
            left = target - size
            if 0 < left < step * per:
                step = max(4, int(left / per) // 4 * 4 + 4)
        filled = time.perf_counter() - t0
        self.psql("VACUUM (FREEZE, ANALYZE);")
        vac = time.perf_counter() - t0 - filled
        rows = self.psql(
            "SELECT sum(n_live_tup) FROM pg_stat_user_tables "
            f"WHERE schemaname = '{schema}'")
        print("backup benchmarks: schema %s filled with %.0f MiB (%s rows in 4 tables, "
              "with indexes and TOAST) in %.0f s, then VACUUM (FREEZE, ANALYZE) in %.0f s"
              % (schema, size / 1048576.0, rows, filled, vac), flush=True)
        return size

    # --- 1, 2: backup against pg_dump ------------------------------------------

    def newest_backup(self, cfg, env_id, db="press"):
        proc, _ = self.pressctl("backup", "list", cfg, "--env", env_id,
                                "--format", "json", db=db)
        listed = json.loads(proc.stdout)
        if not listed:
            fail("backup list shows no backup of %s after backup run" % env_id)
        return listed[0]

    def bench_backup(self, cfg, schema, env_id, mb, size):
        """mb: the size asked for (in the labels); size: the schema's
        measured bytes (the MiB/s figures)."""
        runs = self.args.big_runs
        real_mb = size / 1048576.0
        pgd, pgd_rss, ours, own = [], [], [], []
        for _ in range(runs):
            secs, rss = self.pg_dump_traced(schema)
            pgd.append(secs)
            pgd_rss.append(rss)
            secs, rss = self.pressctl_traced("backup run",
                                             ["backup", "run", cfg, "--env", env_id])
            ours.append(secs)
            own.append(rss)
        b = self.newest_backup(cfg, env_id)
        med_d, med_b = statistics.median(pgd), statistics.median(ours)
        ratio = med_d / med_b
        label = f"pg_dump -Fc --schema ({mb} MiB schema) > /dev/null"
        print("%s: median %.2f s, %.1f MiB/s of schema, its own peak RSS %.1f MiB "
              "[%d runs, min %.2f s, max %.2f s]"
              % (label, med_d, real_mb / med_d, max(pgd_rss), runs, min(pgd), max(pgd)),
              flush=True)
        self.put_record(label, med_d, max(pgd_rss))
        label = f"backup run ({mb} MiB schema)"
        print("%s: median %.2f s, %.1f MiB/s of schema, throughput ratio to pg_dump "
              "%.2f (target >= %.2f); dump %.0f MiB stored [%d runs, min %.2f s, "
              "max %.2f s]" % (label, med_b, real_mb / med_b, ratio, TARGET_THROUGHPUT,
                               b["bytes"] / 1048576.0, runs, min(ours), max(ours)),
              flush=True)
        print("%s: pressctl's own peak RSS %.1f MiB (target %.0f MiB, ratio %.2f; "
              "its pg_dump's not counted)"
              % (label, max(own), TARGET_RSS, max(own) / TARGET_RSS), flush=True)
        self.put_record(label, med_b, max(own))
        return b["id"]

    # --- 3: restore against pg_restore ---------------------------------------

    def bench_restore(self, cfg, schema, site, backup_id, mb):
        runs = self.args.big_runs
        dump = self.work / "local.dump"
        t0 = time.perf_counter()
        self.timed("pg_dump to a file", [tool("pg_dump"), "-Fc", "--no-password",
                   f'--schema="{schema}"', "-f", str(dump)], self.pg_env())
        print("  setup: local dump file of %.0f MiB in %.1f s (untimed work)"
              % (dump.stat().st_size / 1048576.0, time.perf_counter() - t0), flush=True)
        pgr, ours, own = [], [], []
        for k in range(1, runs + 1):
            db = f"bench_restore_{k}"
            self.psql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
            pgr.append(self.timed("pg_restore", [
                tool("pg_restore"), "--no-owner", "--no-privileges",
                "--single-transaction", "--no-password", "-d", db, str(dump)],
                self.pg_env(db)))
            restored = self.schema_bytes(schema, db)
            self.psql(f"DROP DATABASE {db};")
            target = f"{site}/r{k}"
            secs, o = self.pressctl_traced("restore", [
                "restore", cfg, f"{site}/data", "--backup", backup_id, "--into", target])
            ours.append(secs)
            own.append(o)
            ours_size = self.schema_bytes(f"{site}_r{k}")
            # The restored copy and the replaced (empty) schema: not needed.
            self.psql(f'DROP SCHEMA "{site}_r{k}" CASCADE;' + "".join(
                f'DROP SCHEMA "{n}" CASCADE;' for n in self.psql(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE "
                    f"'{site}\\_r{k}\\_\\_pre\\_restore\\_%'").split()))
        dump.unlink()
        med_r, med_p = statistics.median(pgr), statistics.median(ours)
        label = f"pg_restore of a local dump ({mb} MiB schema) into a new database"
        print("%s: median %.2f s, %.0f MiB restored [%d runs, min %.2f s, max %.2f s]"
              % (label, med_r, restored / 1048576.0, runs, min(pgr), max(pgr)), flush=True)
        self.put_record(label, med_r, 0.0)
        label = f"restore --into a new environment ({mb} MiB schema)"
        print("%s: median %.2f s, %.0f MiB restored, ratio to pg_restore %.2f (target "
              "<= %.2f), pressctl's own peak RSS %.1f MiB [%d runs, min %.2f s, max %.2f s]"
              % (label, med_p, ours_size / 1048576.0, med_p / med_r, TARGET_RESTORE,
                 max(own), runs, min(ours), max(ours)), flush=True)
        self.put_record(label, med_p, max(own))

    # --- 4: one small environment among many ------------------------------------

    def small_backup(self, label, cfg, db):
        """Median of --runs backups of sm/small after a warm-up, each after
        a pg_dump of its schema; both medians."""
        runs = self.args.runs
        times, dumps, own = [], [], []
        for i in range(1 + runs):
            d, _ = self.pg_dump_traced("sm_small", db)
            secs, o = self.pressctl_traced(label, ["backup", "run", cfg, "--env", "sm/small"],
                                           db=db)
            if i:
                dumps.append(d)
                times.append(secs)
                own.append(o)
        med, med_d = statistics.median(times), statistics.median(dumps)
        print("%s: median %.3f s, pressctl's own peak RSS %.1f MiB [%d runs, min %.3f s, "
              "max %.3f s]; pg_dump of its schema alone: median %.3f s"
              % (label, med, max(own), runs, min(times), max(times), med_d), flush=True)
        self.put_record(label, med, max(own))
        return med, med_d

    def bench_crowd(self):
        n = self.args.envs
        db = "press_crowd"
        self.psql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
        docs = [SITE_DOC.format(site="sm"),
                ENV_DOC.format(site="sm", env="small", stage="production"),
                POLICY_DOC]
        cfg = self.config("crowd", "bq", 0, docs)
        self.pressctl("apply", cfg, db=db)
        role = self.owner("sm_small", db)
        self.psql(f'SET ROLE "{role}"; SET search_path = sm_small;\n' + SMALL_TABLES, db)
        size = self.schema_bytes("sm_small", db)
        print(f"small environment: sm/small, 3 tables, {size / 1048576.0:.1f} MiB, "
              f"in a database of its own", flush=True)
        alone, alone_d = self.small_backup("backup run of the small environment, alone "
                                           "in its database", cfg, db)

        cfg = self.config("crowd", "bq", n, docs)
        _, secs = self.pressctl("apply", cfg, "--parallel", "8", db=db)
        t0 = time.perf_counter()
        schemas = self.psql("SELECT nspname || ' ' || pg_get_userbyid(nspowner) FROM "
                            "pg_namespace WHERE nspname LIKE 'bqs%' ORDER BY 1", db)
        sql = "".join(SCALE_SQL.format(schema=f'"{s}"', role=f'"{r}"')
                      for s, r in (line.split() for line in schemas.splitlines()))
        self.psql(sql, db)
        self.psql("ANALYZE;", db)
        objects = self.psql("SELECT count(*) FROM pg_class", db)
        print(f"  setup: {n:,} more environments applied in {secs:.0f} s (replicas: 0: "
              f"role, schema, bucket, no container), {SCALE_TABLES} tables each in "
              f"{time.perf_counter() - t0:.0f} s; the database has {int(objects):,} "
              f"relations (untimed work)", flush=True)
        crowded, crowded_d = self.small_backup(
            f"backup run of the small environment among {n:,} others", cfg, db)
        print(f"backup of one small environment among {n:,} environments' schemas vs "
              f"alone: ratio {crowded / alone:.2f} (pg_dump of its schema alone: ratio "
              f"{crowded_d / alone_d:.2f})", flush=True)


SITE_DOC = """\
apiVersion: press/v1
kind: Site
metadata:
  name: {site}
spec:
  app: generic
  image: local/press-test-app:1
  health: {{path: /healthz, timeoutSeconds: 30}}
"""

ENV_DOC = """\
apiVersion: press/v1
kind: Environment
metadata:
  name: {env}
spec:
  site: {site}
  stage: {stage}
  replicas: 0
"""

POLICY_DOC = """\
apiVersion: press/v1
kind: BackupPolicy
metadata:
  name: bench
spec:
  selector: {stage: production}
  schedule: "0 2 * * *"
  retention: {daily: 7}
  include: [database]
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pressctl", default=os.environ.get("PRESSCTL"))
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--s3-port", type=int, required=True)
    ap.add_argument("--docker-sock", required=True)
    ap.add_argument("--master-key", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big-runs", type=int, help="runs of the --mb measurements "
                    "(default: min(3, --runs))")
    ap.add_argument("--record")
    ap.add_argument("--mb", type=int, default=1024, help="size of the big schema, MiB")
    ap.add_argument("--envs", type=int, default=1000,
                    help="environments around the small one")
    args = ap.parse_args()
    if not args.pressctl:
        ap.error("no pressctl: set PRESSCTL or pass --pressctl")
    if args.mb < 1 or args.envs < 1 or args.runs < 1:
        ap.error("--mb, --envs and --runs must be 1 or more")
    args.runs = max(1, args.runs)
    args.big_runs = args.big_runs or min(3, args.runs)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    b = Bench(args)

    # 1-3 on the big schema.
    runs = args.big_runs
    docs = [SITE_DOC.format(site="bk"),
            ENV_DOC.format(site="bk", env="data", stage="production"),
            *(ENV_DOC.format(site="bk", env=f"r{k}", stage="development")
              for k in range(1, runs + 1)),
            POLICY_DOC]
    cfg = b.config("big", "bk", 0, docs)
    b.pressctl("apply", cfg)
    print(f"backup benchmarks: {args.mb} MiB schema, {runs} runs each of the "
          f"{args.mb} MiB measurements (in turns with pg_dump / pg_restore, no "
          f"warm-up), {args.runs} of the small ones; pg_dump, pg_restore and psql: "
          f"{tool('pg_dump')}, {tool('pg_restore')}, {tool('psql')}", flush=True)
    size = b.fill("bk_data", args.mb)
    backup_id = b.bench_backup(cfg, "bk_data", "bk/data", args.mb, size)
    b.bench_restore(cfg, "bk_data", "bk", backup_id, args.mb)

    # 4 in a database of its own.
    b.bench_crowd()


if __name__ == "__main__":
    main()
