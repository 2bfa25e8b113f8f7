"""The traefik ingress driver (docs/drivers.md "Traefik", issue 11
acceptance 3).

Traefik itself cannot run here. What pressctl gives it is pinned instead:

- the router and service labels on the environment's containers (what
  Traefik's Docker provider reads), read back from the session's Docker
  engine, and the files of the file-provider directory, are compared
  byte for byte with golden files under tests/golden/traefik/ (`make
  golden` rewrites them for review, PRESS_GOLDEN_UPDATE=1); every key
  in them is one of Traefik v3's documented keys (DOCUMENTED_* below);
- the certificates of `tls: selfsigned` (made by the test with the
  openssl CLI and handed to pressctl through PRESSCTL_TEST_CERT_DIR,
  until pressctl makes its own) are written next to the files: each is
  parsed with OpenSSL, names exactly its route's hosts and matches its
  key;
- the route table Traefik would build from those labels and files
  (host -> environment, redirect host -> primary host, https or not)
  equals the one read from the caddy driver's live configuration in the
  session's real Caddy, for the same Domains;
- a file edited, removed or stripped of its certificate by hand is drift
  in `plan` and healed by `apply`; files that are not the platform's are
  never touched; adding a Domain changes that environment alone.

The Domain set: two environments with a host each plus a second host on
production, redirects on each, tls none/selfsigned/acme, and a preview's
generated host.
"""

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import helpers
from converge_helpers import Platform, derived_password, dump, env_doc, site_doc
from services import free_port

GOLDEN = helpers.REPO / "tests" / "golden" / "traefik"
UPDATE = os.environ.get("PRESS_GOLDEN_UPDATE") == "1"
MOUNTED_AT = "/etc/traefik/press"  # where Traefik sees the directory

# Traefik v3's documented keys that pressctl writes (routing/providers/
# docker, routing/routers, routing/services, middlewares/http/redirectregex
# and redirectscheme, https/tls "User defined" certificates). <n> is a name.
DOCUMENTED_LABELS = [re.compile(p) for p in (
    r"traefik\.enable",
    r"traefik\.docker\.network",
    r"traefik\.http\.routers\.[^.@]+\.(rule|entrypoints|service|tls|tls\.certresolver)",
    r"traefik\.http\.services\.[^.@]+\.loadbalancer\.(server\.port|healthcheck\.path|"
    r"healthcheck\.interval|healthcheck\.timeout)",
)]
DOCUMENTED_ROUTER = {"rule", "entryPoints", "middlewares", "service", "tls"}
DOCUMENTED_ROUTER_TLS = {"certResolver"}
DOCUMENTED_MIDDLEWARES = {"redirectRegex": {"regex", "replacement", "permanent"},
                          "redirectScheme": {"scheme", "port", "permanent"}}
DOCUMENTED_CERT = {"certFile", "keyFile"}


# --- the Domain set ---------------------------------------------------------------

def domain_doc(name, host, environment, redirects=None, tls="none"):
    spec = {"host": host, "environment": environment, "tls": tls}
    if redirects:
        spec["redirects"] = redirects
    return {"apiVersion": "press/v1", "kind": "Domain",
            "metadata": {"name": name}, "spec": spec}


def declare(p, site):
    """Site `site`: prod, stage and a preview pr-1; Domains shop
    (selfsigned, two redirects) and api (acme, one redirect) on prod,
    stage (plain HTTP, one redirect) on stage. Returns {host: [hosts of its route]}
    of the selfsigned routes."""
    dump(p.src / "site.yaml", site_doc(site),
         env_doc(site, "prod", stage="production", env={"WHO": f"{site}-prod"}),
         env_doc(site, "stage", env={"WHO": f"{site}-stage"}),
         env_doc(site, "pr-1", stage="preview", expiresAfterHours=48,
                 env={"WHO": f"{site}-pr-1"}))
    dump(p.src / "domains.yaml",
         domain_doc("shop", f"shop.{site}.test", f"{site}/prod", tls="selfsigned",
                    redirects=[f"www.shop.{site}.test", f"old-shop.{site}.test"]),
         domain_doc("api", f"api.{site}.test", f"{site}/prod", tls="acme",
                    redirects=[f"www.api.{site}.test"]),
         domain_doc("stage", f"stage.{site}.test", f"{site}/stage",
                    redirects=[f"www.stage.{site}.test"]))
    return {f"shop.{site}.test": [f"shop.{site}.test", f"www.shop.{site}.test",
                                  f"old-shop.{site}.test"]}


def make_certs(directory, selfsigned):
    """A self-signed certificate and key per host, with every host of its
    route in the SAN, as DIR/<host>.crt and .key (the openssl CLI)."""
    directory.mkdir(parents=True, exist_ok=True)
    for host, names in selfsigned.items():
        san = ",".join(f"DNS:{n}" for n in names)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
             "-subj", f"/CN={host}", "-addext", f"subjectAltName={san}",
             "-keyout", str(directory / f"{host}.key"),
             "-out", str(directory / f"{host}.crt")],
            check=True, capture_output=True, text=True)


def wildcard(site):
    return f"  domains:\n    previewWildcard: \"*.preview.{site}.test\"\n"


# --- reading what Traefik would read --------------------------------------------------

def platform_labels(p):
    """{container: {label: value}} of the platform's running containers:
    the traefik.* labels, as Traefik's Docker provider reads them."""
    out = {}
    for name in p.services.containers(f"label=press.platform={p.name}", all=False):
        info = json.loads(p.services.docker("inspect", "--type", "container", name))[0]
        labels = info["Config"]["Labels"] or {}
        out[name] = {k: v for k, v in sorted(labels.items()) if k.startswith("traefik.")}
        out[name]["press.env"] = labels.get("press.env")
    return out


def config_files(directory):
    """{file name: text} of the *.yml files in the directory."""
    return {f.name: f.read_text(encoding="utf-8")
            for f in sorted(Path(directory).glob("*.yml"))}


HOST_RULE = re.compile(r"Host\(`([^`]+)`\)")


def rule_hosts(rule):
    parts = [s.strip() for s in rule.split("||")]
    hosts = [HOST_RULE.fullmatch(s) for s in parts]
    assert all(hosts), f"not a rule of Host() alternatives: {rule!r}"
    return [h.group(1) for h in hosts]


def go_replace(regex, replacement, url):
    """What Traefik's redirectRegex does with url (Go's regexp and
    Regexp.Expand, for the ${n} syntax pressctl uses)."""
    m = re.match(regex, url)
    assert m, f"{regex!r} does not match {url!r}"
    return re.sub(r"\$\{(\d+)\}", lambda g: m.group(int(g.group(1))) or "", replacement)


def traefik_table(labels, files, site):
    """The route table Traefik builds from the labels and the files:
    {host: (what, target, https)} with what "serve" (target: the
    environment) or "redirect" (target: the primary host, https: where
    the redirect points)."""
    table = {}
    routers, services = {}, {}
    for name, lab in labels.items():
        if lab.get("traefik.enable") != "true":
            continue
        for k, v in lab.items():
            m = re.fullmatch(r"traefik\.http\.routers\.([^.]+)\.(.+)", k)
            if m:
                routers.setdefault(m.group(1), {})[m.group(2)] = v
            m = re.fullmatch(r"traefik\.http\.services\.([^.]+)\..+", k)
            if m:
                services.setdefault(m.group(1), set()).add(lab["press.env"])
    for rname, r in routers.items():
        envs = services.get(r["service"])
        assert envs and len(envs) == 1, f"router {rname}: service {r['service']} is {envs}"
        https = r.get("tls") == "true"
        assert r["entrypoints"] == ("websecure" if https else "web"), r
        for host in rule_hosts(r["rule"]):
            assert host not in table, f"{host} claimed twice"
            table[host] = ("serve", next(iter(envs)), https)
    upgraded = set()
    for text in files.values():
        conf = yaml.safe_load(text) or {}
        http = conf.get("http", {})
        for rname, r in http.get("routers", {}).items():
            assert r["service"] == "noop@internal", r
            (mw,) = r["middlewares"]
            mwc = http["middlewares"][mw]
            for host in rule_hosts(r["rule"]):
                scheme = "https" if r.get("tls") is not None else "http"
                if "redirectScheme" in mwc:
                    assert mwc["redirectScheme"]["scheme"] == "https"
                    assert mwc["redirectScheme"]["permanent"] is True
                    upgraded.add(host)
                    continue
                rr = mwc["redirectRegex"]
                assert rr["permanent"] is True
                target = urlsplit(go_replace(rr["regex"], rr["replacement"],
                                             f"{scheme}://{host}/p?q=1"))
                assert target.path == "/p" and target.query == "q=1", target
                entry = ("redirect", target.hostname, target.scheme == "https")
                assert table.get(host, entry) == entry, (host, table[host], entry)
                table[host] = entry
    # HTTP -> HTTPS exactly for the hosts served over https.
    assert upgraded == {h for h, v in table.items() if v[0] == "serve" and v[2]}, upgraded
    return normalize(table, site)


def normalize(table, site):
    """The table with the site's name replaced, so that two platforms
    (whose sites must differ: schemas are per site) compare."""
    def n(s):
        return s.replace(site, "SITE") if isinstance(s, str) else s
    return {n(h): tuple(n(x) for x in v) for h, v in table.items()}


def caddy_table(services, p, site, https_port):
    """The same table from the caddy driver's routes in the live Caddy,
    and whether Caddy serves any host over https. A dial address is a
    container's published port or its address on the platform's network,
    whose press.env label names the environment."""
    st, cfg = services.caddy("GET", "/config/")
    assert st == 200, cfg
    dials = {}  # "127.0.0.1:<host port>" or "<address>:<port>" -> env
    for name in services.containers(f"label=press.platform={p.name}", all=False):
        info = json.loads(services.docker("inspect", "--type", "container", name))[0]
        env = info["Config"]["Labels"]["press.env"]
        for binds in (info["HostConfig"].get("PortBindings") or {}).values():
            for b in binds or []:
                dials[f"127.0.0.1:{b['HostPort']}"] = env
        for net in (info["NetworkSettings"].get("Networks") or {}).values():
            for port in (info["Config"].get("ExposedPorts") or {}):
                if net.get("IPAddress"):
                    dials[f"{net['IPAddress']}:{port.split('/')[0]}"] = env
    table, prefix = {}, f"press.{p.name}."
    for server in cfg["apps"]["http"]["servers"].values():
        tls_server = any(a.endswith(f":{https_port}") for a in server.get("listen", []))
        for route in server.get("routes", []):
            rid = route.get("@id", "")
            if not rid.startswith(prefix) or rid == prefix + "404":
                continue
            hosts = [h for m in route["match"] for h in m["host"]]
            redirected, upgraded, env = {}, set(), None
            for sub in route["handle"][0].get("routes", []):
                h = sub["handle"][0]
                sub_hosts = [x for m in sub.get("match", []) for x in m["host"]] or hosts
                if h["handler"] == "static_response" and \
                        h.get("status_code") in (301, 302, 307, 308):
                    loc = urlsplit(h["headers"]["Location"][0].replace(
                        "{http.request.uri}", "/p?q=1"))
                    assert loc.path == "/p" and loc.query == "q=1", loc
                    for x in sub_hosts:
                        if loc.hostname == x and loc.scheme == "https":
                            upgraded.add(x)  # HTTP -> HTTPS of the host itself
                        else:
                            redirected[x] = ("redirect", loc.hostname,
                                             loc.scheme == "https")
                elif h["handler"] == "reverse_proxy":
                    envs = {dials.get(u["dial"]) for u in h["upstreams"]} - {None}
                    assert len(envs) == 1, (rid, h["upstreams"], dials)
                    (env,) = envs
            for x in hosts:
                entry = redirected.get(x) or ("serve", env, tls_server or x in upgraded)
                prev = table.get(x)
                if prev and prev[:2] == entry[:2]:  # the same, on another server
                    entry = entry[:2] + (prev[2] or entry[2],)
                table[x] = entry
    acts_on_tls = any(v[2] for v in table.values())
    return normalize(table, site), acts_on_tls


# --- the platforms ---------------------------------------------------------------------

def traefik_block(directory, http=80, https=443):
    return ("  ingress:\n    driver: traefik\n"
            f"    http: {http}\n    https: {https}\n"
            f"    traefik:\n      dir: \"{directory}\"\n"
            f"      mountedAt: {MOUNTED_AT}\n      certResolver: le\n")


class TraefikPlatform:
    def __init__(self, services, pressctl, root, name, site):
        self.dir = Path(root) / "traefik-dynamic"
        self.certs = Path(root) / "certs"
        self.site = site
        self.p = Platform(services, pressctl, root, name=name, prefix=name, nports=12,
                          extra_platform=wildcard(site) + traefik_block(self.dir),
                          env={"PRESSCTL_TEST_CERT_DIR": str(Path(root) / "certs")})
        self.selfsigned = declare(self.p, site)
        make_certs(self.certs, self.selfsigned)
        for key in self.certs.glob("*.key"):
            self.p.add_secret(key.read_text().split("-----")[2].strip().splitlines()[0])

    def plan_actions(self):
        plan = self.p.plan_json()
        return [(a["action"], a["kind"], a["name"], a["environment"], a["reason"])
                for a in plan["actions"]]


@pytest.fixture(scope="module")
def trk(services, pressctl, tmp_path_factory):
    t = TraefikPlatform(services, pressctl, tmp_path_factory.mktemp("trk"), "trk-g", "trkg")
    t.p.apply()
    t.p.assert_converged()
    return t


@pytest.fixture(scope="module")
def cdy(services, pressctl, tmp_path_factory):
    root = tmp_path_factory.mktemp("cdy")
    http, https = free_port(), free_port()
    p = Platform(services, pressctl, root, name="trk-c", prefix="trk-c", nports=12,
                 extra_platform=wildcard("trkc") +
                 f"  ingress:\n    driver: caddy\n    admin: \"{services.caddy_admin}\"\n"
                 f"    http: {http}\n    https: {https}\n")
    declare(p, "trkc")
    p.apply()
    p.assert_converged()
    p.https_port = https
    return p


# --- golden files ------------------------------------------------------------------------

def check_golden(name, got):
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    if not path.is_file():
        pytest.fail(f"missing golden file {path}: run `make golden` and review it",
                    pytrace=False)
    want = path.read_text(encoding="utf-8")
    assert got == want, (f"{name} differs from {path}; if the change is intended, run "
                         f"`make golden` and review the diff\n--- got ---\n{got}")


def test_traefik_golden_labels(trk):
    labels = platform_labels(trk.p)
    assert set(labels) == {"trk-g-trkg-prod", "trk-g-trkg-stage", "trk-g-trkg-pr-1"}, labels
    for name, lab in labels.items():
        for key in lab:
            if key != "press.env":
                assert any(p.fullmatch(key) for p in DOCUMENTED_LABELS), \
                    f"{name}: label {key} is not one of Traefik v3's documented keys"
    # Labels never carry secrets: no password, key or variable of the
    # container (they are readable by anyone who may list containers).
    secrets = trk.p.secrets + [derived_password(trk.p.services, f"trkg_{e}")
                               for e in ("prod", "stage", "pr_1")]
    for lab in labels.values():
        for v in lab.values():
            assert not any(s and s in v for s in secrets), v
            assert "PRIVATE KEY" not in v and "CERTIFICATE" not in v, v
    check_golden("labels.json", json.dumps(labels, indent=2, sort_keys=True) + "\n")


def test_traefik_golden_files(trk):
    files = config_files(trk.dir)
    assert sorted(files) == ["press.trk-g.api.yml", "press.trk-g.preview.trkg.pr-1.yml",
                             "press.trk-g.shop.yml", "press.trk-g.stage.yml"], sorted(files)
    for name, text in files.items():
        assert text.startswith("# managed by pressctl: press.platform=trk-g\n"), text
        conf = yaml.safe_load(text) or {}
        assert set(conf) <= {"http", "tls"}, conf
        http = conf.get("http", {})
        assert set(http) <= {"routers", "middlewares"}, http
        for r in http.get("routers", {}).values():
            assert set(r) <= DOCUMENTED_ROUTER, r
            assert set(r.get("tls") or {}) <= DOCUMENTED_ROUTER_TLS, r
        for m in http.get("middlewares", {}).values():
            (kind,) = m
            assert set(m[kind]) <= DOCUMENTED_MIDDLEWARES[kind], m
        for c in conf.get("tls", {}).get("certificates", []):
            assert set(c) == DOCUMENTED_CERT, c
        check_golden(name, text)
    # Written atomically: no temporary file is left.
    assert not [f.name for f in trk.dir.iterdir() if f.name.startswith(".")]


def test_traefik_certificates_parse_and_name_their_hosts(trk):
    conf = yaml.safe_load(config_files(trk.dir)["press.trk-g.shop.yml"])
    (cert,) = conf["tls"]["certificates"]
    assert cert == {"certFile": f"{MOUNTED_AT}/press.trk-g.shop.crt",
                    "keyFile": f"{MOUNTED_AT}/press.trk-g.shop.key"}
    crts = sorted(trk.dir.glob("*.crt"))
    assert [c.name for c in crts] == ["press.trk-g.shop.crt"], crts
    crt, key = crts[0], trk.dir / "press.trk-g.shop.key"
    # OpenSSL parses it, and its SAN names exactly the route's hosts.
    out = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-ext",
                          "subjectAltName", "-checkend", "86400"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    san = sorted(re.findall(r"DNS:([^,\s]+)", out.stdout))
    assert san == sorted(trk.selfsigned["shop.trkg.test"]), out.stdout
    for host in san:
        assert subprocess.run(["openssl", "x509", "-in", str(crt), "-noout",
                               "-checkhost", host], capture_output=True,
                              text=True).stdout.strip().endswith("does match certificate")
    # The key belongs to it, and only its owner reads it.
    pub = [subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
           for cmd in (["openssl", "x509", "-in", str(crt), "-noout", "-pubkey"],
                       ["openssl", "pkey", "-in", str(key), "-pubout"])]
    assert pub[0] == pub[1]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # The acme and plain routes carry no certificate files.
    assert not (trk.dir / "press.trk-g.api.crt").exists()


def test_traefik_route_table_equals_caddys(services, trk, cdy):
    mine = traefik_table(platform_labels(trk.p), config_files(trk.dir), "trkg")
    theirs, caddy_tls = caddy_table(services, cdy, "trkc", cdy.https_port)
    assert mine == {
        "shop.SITE.test": ("serve", "SITE/prod", True),
        "www.shop.SITE.test": ("redirect", "shop.SITE.test", True),
        "old-shop.SITE.test": ("redirect", "shop.SITE.test", True),
        "api.SITE.test": ("serve", "SITE/prod", True),
        "www.api.SITE.test": ("redirect", "api.SITE.test", True),
        "stage.SITE.test": ("serve", "SITE/stage", False),
        "www.stage.SITE.test": ("redirect", "stage.SITE.test", False),
        "SITE-pr-1.preview.SITE.test": ("serve", "SITE/pr-1", False),
    }, mine
    if not caddy_tls:
        # The caddy driver serves every host over plain HTTP until it acts
        # on tls (docs/drivers.md "Caddy"): compare the https column where
        # both say plain HTTP, everything else everywhere.
        mine = {h: v if v[2] is False else v[:2] + (False,) for h, v in mine.items()}
    assert theirs == mine


# --- drift and ownership ---------------------------------------------------------------

def test_traefik_files_changed_by_hand_are_drift_healed_by_apply(trk):
    d, files = trk.dir, config_files(trk.dir)
    stage = d / "press.trk-g.stage.yml"

    # Edited: the redirect points elsewhere.
    stage.write_text(files[stage.name].replace("stage.trkg.test", "evil.trkg.test"))
    assert trk.plan_actions() == [("heal", "route", "press.trk-g.stage", "trkg/stage",
                                   "drift")]
    assert trk.p.plan("--detailed-exitcode").returncode == 2
    trk.p.apply()
    assert config_files(d) == files

    # Removed; the certificate of another route removed; the mark
    # stripped from a third.
    stage.unlink()
    (d / "press.trk-g.shop.crt").unlink()
    api = d / "press.trk-g.api.yml"
    api.write_text("\n".join(files[api.name].splitlines()[1:]) + "\n")
    acts = sorted(trk.plan_actions())
    assert acts == [("create", "route", "press.trk-g.stage", "trkg/stage", "drift"),
                    ("heal", "route", "press.trk-g.api", "trkg/prod", "drift"),
                    ("heal", "route", "press.trk-g.shop", "trkg/prod", "drift")], acts

    # Files that are not the platform's: another name, another platform's
    # mark; neither is read as a route nor touched.
    foreign = {"someone-else.yml": "http:\n  routers: {}\n",
               "press.trk-other.web.yml":
                   "# managed by pressctl: press.platform=trk-other\nhttp: {}\n",
               "notes.txt": "hello\n"}
    for name, text in foreign.items():
        (d / name).write_text(text)
    trk.p.apply()
    assert config_files(d) == {**files, "someone-else.yml": foreign["someone-else.yml"],
                               "press.trk-other.web.yml": foreign["press.trk-other.web.yml"]}
    assert (d / "notes.txt").read_text() == "hello\n"
    assert (d / "press.trk-g.shop.crt").is_file()
    trk.p.assert_converged()

    # An orphan of this platform's (marked, declared by nothing) goes.
    orphan = d / "press.trk-g.gone.yml"
    orphan.write_text(files["press.trk-g.api.yml"])
    assert ("remove", "route", "press.trk-g.gone") in [a[:3] for a in trk.plan_actions()]
    trk.p.apply()
    assert not orphan.exists()
    for name in foreign:
        (d / name).unlink()
    trk.p.assert_converged()
    trk.p.assert_no_secrets(roles=("trkg_prod", "trkg_stage"))


def test_traefik_adding_a_domain_changes_that_environment_alone(trk):
    before = platform_labels(trk.p)
    files = config_files(trk.dir)
    docs = list(yaml.safe_load_all((trk.p.src / "domains.yaml").read_text()))
    extra = domain_doc("blog", "blog.trkg.test", "trkg/stage")
    dump(trk.p.src / "domains.yaml", *docs, extra)
    acts = trk.plan_actions()
    assert sorted(a[:4] for a in acts) == [
        ("create", "route", "press.trk-g.blog", "trkg/stage"),
        ("update", "container", "trk-g-trkg-stage", "trkg/stage")], acts
    trk.p.apply()
    after = platform_labels(trk.p)
    assert after["trk-g-trkg-prod"] == before["trk-g-trkg-prod"]
    assert after["trk-g-trkg-pr-1"] == before["trk-g-trkg-pr-1"]
    assert after["trk-g-trkg-stage"]["traefik.http.routers.press_trk-g_blog.rule"] == \
        "Host(`blog.trkg.test`)"
    assert config_files(trk.dir) == {**files, "press.trk-g.blog.yml": config_files(
        trk.dir)["press.trk-g.blog.yml"]}
    trk.p.assert_converged()

    # Removed again: its file goes, the labels are as before.
    dump(trk.p.src / "domains.yaml", *docs)
    trk.p.apply()
    assert config_files(trk.dir) == files
    assert platform_labels(trk.p)["trk-g-trkg-stage"] == before["trk-g-trkg-stage"]
    trk.p.assert_converged()
