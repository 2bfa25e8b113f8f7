#!/usr/bin/python3
"""Generate a valid pressctl config repository of a given size.

    gen.py [--environments N] [--docs-per-file 100] OUTDIR
    gen.py --check OUTDIR [--schema schema/manifest.schema.json]

The repository holds one Platform, N/4 Sites (app generic, image
local/app:1), four Environments per Site (production, staging,
development, and a preview that expires after 48 hours), one
BackupPolicy and N/10 Domains with unique hosts. Documents are spread over
files of about --docs-per-file documents each, in nested directories, the
way a large real config repository is laid out. The output depends only on
the arguments, so two runs give identical bytes.

--check parses a generated tree (PyYAML and jsonschema, Debian's
python3-yaml and python3-jsonschema) and validates every document against
the manifest schema, then checks what the schema cannot: one Platform,
unique names and hosts, domain targets that exist, derived live names
within the backends' limits. The generator itself needs only the standard
library.
"""

import argparse
import os
import sys

STAGES = ("production", "staging", "development", "preview")
PREFIX = "fcs-press"
TIERS = ("gold", "silver", "bronze")

PLATFORM = """\
# Benchmark platform (tests/bench/gen.py). Secrets are references only.
apiVersion: press/v1
kind: Platform
metadata:
  name: bench
spec:
  postgres:
    dsn: {env: PRESS_PG_DSN}
    maxConnections: 8
    siteHost: 172.18.0.1
  s3:
    endpoint: "http://127.0.0.1:48590"
    region: us-east-1
    siteEndpoint: "http://172.18.0.1:48590"
    accessKey: {env: PRESS_S3_ACCESS_KEY}
    secretKey: {env: PRESS_S3_SECRET_KEY}
  runtime:
    driver: docker
    socket: /var/run/docker.sock
    network: %(prefix)s
  naming:
    prefix: %(prefix)s
  ports:
    from: 20000
    to: %(port_to)d
  secrets:
    masterKey: {file: /run/secrets/press-master-key}
  safety:
    maxDeletePercent: 20
    softDeleteDays: 30
"""

BACKUP = """\
apiVersion: press/v1
kind: BackupPolicy
metadata:
  name: daily
spec:
  selector:
    stage: production
  schedule: "0 2 * * *"
  retention:
    daily: 7
    weekly: 4
    monthly: 3
  include: [database, files]
  maxAgeHours: 26
"""

SITE = """\
apiVersion: press/v1
kind: Site
metadata:
  name: %(site)s
  labels:
    tier: %(tier)s
spec:
  app: generic
  image: local/app:1
"""

ENV = """\
apiVersion: press/v1
kind: Environment
metadata:
  name: %(env)s
spec:
  site: %(site)s
  stage: %(env)s
"""

PREVIEW_EXTRA = "  expiresAfterHours: 48\n"

DOMAIN = """\
apiVersion: press/v1
kind: Domain
metadata:
  name: %(name)s
spec:
  host: %(name)s.sites.bench.example
  environment: %(site)s/production
  tls: none
"""


def site_name(i, width):
    return "s%0*d" % (width, i)


def write(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("---\n".join(docs))
    return sum(len(d) for d in docs)


def generate(out, n_envs, docs_per_file):
    n_sites = (n_envs + len(STAGES) - 1) // len(STAGES)
    n_domains = n_envs // 10
    width = max(5, len(str(n_sites)))
    sites_per_file = max(1, docs_per_file // (1 + len(STAGES)))
    files_per_dir = 10
    nbytes = nfiles = 0

    if os.path.isdir(out) and os.listdir(out):
        sys.exit("gen.py: '%s' is not empty: give a new directory" % out)
    os.makedirs(out, exist_ok=True)

    # One port per environment (and replica), with room to spare.
    port_to = min(65535, 20000 + max(1000, 2 * n_envs))
    nbytes += write(os.path.join(out, "platform.yaml"),
                    [PLATFORM % {"prefix": PREFIX, "port_to": port_to}])
    nbytes += write(os.path.join(out, "policies", "daily.yaml"), [BACKUP])
    nfiles += 2

    left = n_envs
    for first in range(1, n_sites + 1, sites_per_file):
        docs = []
        for i in range(first, min(first + sites_per_file, n_sites + 1)):
            site = site_name(i, width)
            docs.append(SITE % {"site": site, "tier": TIERS[i % len(TIERS)]})
            for env in STAGES[:min(len(STAGES), left)]:
                doc = ENV % {"site": site, "env": env}
                if env == "preview":
                    doc += PREVIEW_EXTRA
                docs.append(doc)
            left -= min(len(STAGES), left)
        k = (first - 1) // sites_per_file
        path = os.path.join(out, "sites", "g%03d" % (k // files_per_dir),
                            "sites-%s.yaml" % site_name(first, width))
        nbytes += write(path, docs)
        nfiles += 1

    for first in range(1, n_domains + 1, docs_per_file):
        docs = []
        for i in range(first, min(first + docs_per_file, n_domains + 1)):
            # Domain i routes site i's production: one host per domain,
            # one domain per environment (n_domains < n_sites).
            docs.append(DOMAIN % {"name": "d%0*d" % (width, i),
                                  "site": site_name(i, width)})
        path = os.path.join(out, "domains", "domains-%0*d.yaml" % (width, first))
        nbytes += write(path, docs)
        nfiles += 1

    print("gen.py: %d environments, %d sites, %d domains in %d files "
          "(%.1f MiB) under %s" % (n_envs, n_sites, n_domains, nfiles,
                                   nbytes / 1048576.0, out), file=sys.stderr)


def check(out, schema_path):
    import json
    try:
        import jsonschema
        import yaml
    except ImportError as exc:
        sys.exit("gen.py: --check needs python3-yaml and python3-jsonschema "
                 "(%s)" % exc)

    with open(schema_path, encoding="utf-8") as f:
        validator = jsonschema.Draft7Validator(json.load(f))
    problems = []
    names = {}
    envs = set()
    hosts = set()
    domains = []
    ndocs = 0

    for root, dirs, files in os.walk(out):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for fn in sorted(files):
            if fn.startswith(".") or not fn.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(root, fn)
            with open(path, encoding="utf-8") as f:
                for i, doc in enumerate(yaml.safe_load_all(f)):
                    if doc is None:
                        continue
                    ndocs += 1
                    where = "%s#%d" % (path, i)
                    for e in validator.iter_errors(doc):
                        problems.append("%s: %s at /%s" % (
                            where, e.message,
                            "/".join(str(p) for p in e.absolute_path)))
                    kind, name = doc["kind"], doc["metadata"]["name"]
                    if kind == "Environment":
                        key = (kind, doc["spec"]["site"] + "/" + name)
                        envs.add(key[1])
                    else:
                        key = (kind, name)
                    if key in names:
                        problems.append("%s: %s '%s' also in %s" % (
                            where, kind, key[1], names[key]))
                    names[key] = where
                    if kind == "Domain":
                        domains.append((where, doc["spec"]))

    kinds = [k for k, _ in names]
    if kinds.count("Platform") != 1:
        problems.append("expected one Platform, found %d"
                        % kinds.count("Platform"))
    for where, spec in domains:
        for host in [spec["host"]] + spec.get("redirects", []):
            if host in hosts:
                problems.append("%s: host '%s' claimed twice" % (where, host))
            hosts.add(host)
        if spec["environment"] not in envs:
            problems.append("%s: no environment '%s'"
                            % (where, spec["environment"]))
    derived = set()
    for ident in envs:
        site, env = ident.split("/")
        if ("Site", site) not in names:
            problems.append("environment '%s': no site '%s'" % (ident, site))
        schema = "%s_%s" % (site, env.replace("-", "_"))
        bucket = "%s-%s-%s" % (PREFIX, site, env)
        if len(schema) > 63 or len(bucket) > 63:
            problems.append("environment '%s': derived name too long" % ident)
        if schema in derived:
            problems.append("environment '%s': schema '%s' not unique"
                            % (ident, schema))
        derived.add(schema)

    for p in problems[:50]:
        print(p, file=sys.stderr)
    if problems:
        sys.exit("gen.py: %d problems in %s" % (len(problems), out))
    print("gen.py: %s: %d documents, %d environments, %d domains: valid"
          % (out, ndocs, len(envs), len(domains)), file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", metavar="OUTDIR")
    ap.add_argument("--environments", "-n", type=int, default=10000)
    ap.add_argument("--docs-per-file", type=int, default=100)
    ap.add_argument("--check", action="store_true",
                    help="validate an existing tree instead of writing one")
    ap.add_argument("--schema", default=os.path.join(
        here, "..", "..", "schema", "manifest.schema.json"))
    args = ap.parse_args()
    if args.check:
        check(args.out, args.schema)
    else:
        if args.environments < 1 or args.docs_per_file < 1:
            ap.error("--environments and --docs-per-file must be positive")
        generate(args.out, args.environments, args.docs_per_file)


if __name__ == "__main__":
    main()
