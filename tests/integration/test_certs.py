"""Certificate status of the Domains with TLS (issue 11, acceptance 4;
docs/man/pressctl-status.md "Certificates").

Real TLS servers: certificates made with the `openssl` CLI, served by
`openssl s_server` processes that the test starts and stops. Each
platform's ingress https port (Platform spec.ingress.https) is the port
of one s_server: pressctl connects there on 127.0.0.1 with the Domain's
host as SNI, as it would to the ingress. Status and plan observe only,
so nothing is applied: the TLS servers stand in for the ingress's https
listener.

- server A serves the 5-day certificate of short.certs.test by default
  and, for the SNI name long.certs.test, the 60-day certificate of
  long.certs.test (-servername/-cert2): the two hosts seeing their own
  certificates proves that SNI is sent;
- server B serves a certificate for another name (other.certs.example)
  to mismatch.certs.test.
"""

import contextlib
import json
import socket
import subprocess
import time
from pathlib import Path

import jsonschema

import helpers
from converge_helpers import Platform, dump, env_doc, site_doc
from helpers import describe
from services import free_port

STATUS_SCHEMA = helpers.REPO / "schema" / "status.schema.json"


def make_cert(dirpath, name, cn, days):
    """(cert, key) paths of a selfsigned certificate for cn (subject CN
    and SAN), valid `days` days from now."""
    cert, key = Path(dirpath) / f"{name}.crt", Path(dirpath) / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", str(days),
                    "-subj", f"/O=press certs test/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn}"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def not_after(cert):
    """The certificate's notAfter as Unix time, read by openssl x509."""
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-enddate"],
                         check=True, capture_output=True, text=True).stdout
    stamp = out.strip().split("=", 1)[1]
    return int(time.mktime(time.strptime(stamp, "%b %d %H:%M:%S %Y GMT"))
               - time.timezone)


@contextlib.contextmanager
def s_server(port, cert, key, extra=()):
    """`openssl s_server` on 127.0.0.1:port until the block ends."""
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                             "-cert", str(cert), "-key", str(key), "-www", "-quiet",
                             *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (
                    f"openssl s_server exited: {proc.stderr.read().decode()}")
                assert time.monotonic() < deadline, "openssl s_server does not listen"
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def domain_doc(name, host, environment, tls):
    return {"apiVersion": "press/v1", "kind": "Domain", "metadata": {"name": name},
            "spec": {"host": host, "environment": environment, "tls": tls}}


def platform(services, pressctl, root, name, https, domains, extra=""):
    """A platform whose ingress https port is `https`, with site `name`'s
    environment prod and the Domains (host, tls) routed to it."""
    block = (f"  ingress:\n    driver: caddy\n    admin: \"{services.caddy_admin}\"\n"
             f"    http: {free_port()}\n    https: {https}\n" + extra)
    p = Platform(services, pressctl, root, name=name, prefix=name, nports=4,
                 extra_platform=block)
    site = name.replace("-", "")
    dump(p.src / "site.yaml", site_doc(site), env_doc(site, "prod", stage="production"))
    dump(p.src / "domains.yaml",
         *[domain_doc(f"d{i}", host, f"{site}/prod", tls)
           for i, (host, tls) in enumerate(domains)])
    return p, f"{site}/prod"


def status(p):
    proc = p.run("status", "--format", "json")
    assert proc.returncode == 0, "status --format json failed" + describe(proc)
    out = json.loads(proc.stdout)
    schema = json.loads(STATUS_SCHEMA.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(out))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return out, proc


def env_of(out, env_id):
    (env,) = [e for e in out["environments"] if e["environment"] == env_id]
    return env


def test_certificates_expiry_and_name_in_status_and_plan(services, pressctl, tmp_path):
    short_c, short_k = make_cert(tmp_path, "short", "short.certs.test", 5)
    long_c, long_k = make_cert(tmp_path, "long", "long.certs.test", 60)
    other_c, other_k = make_cert(tmp_path, "other", "other.certs.example", 60)
    port_a, port_b = free_port(), free_port()

    pa, env_a = platform(services, pressctl, tmp_path / "a", "certs-a", port_a,
                         [("short.certs.test", "selfsigned"), ("long.certs.test", "acme"),
                          ("plain.certs.test", "none")])
    pb, env_b = platform(services, pressctl, tmp_path / "b", "certs-b", port_b,
                         [("mismatch.certs.test", "acme")])

    with s_server(port_a, short_c, short_k,
                  ["-servername", "long.certs.test", "-cert2", str(long_c),
                   "-key2", str(long_k)]), \
            s_server(port_b, other_c, other_k):
        t0 = int(time.time())
        out, proc = status(pa)
        t1 = int(time.time())
        env = env_of(out, env_a)
        certs = {c["host"]: c for c in env["certificates"]}
        # tls none is not checked.
        assert set(certs) == {"short.certs.test", "long.certs.test"}, certs

        short, long_ = certs["short.certs.test"], certs["long.certs.test"]
        for c, cert, days, cn in ((short, short_c, 5, "short.certs.test"),
                                  (long_, long_c, 60, "long.certs.test")):
            assert c["served"] is True and c["error"] is None, c
            assert c["nameMatch"] is True, c
            assert c["subject"] == f"CN={cn},O=press certs test", c
            assert c["issuer"] == c["subject"], c   # selfsigned
            assert c["notAfter"] == not_after(cert), c
            # Whole days left, rounded down: a 5-day certificate made
            # seconds ago has 4 full days and some hours.
            assert (c["notAfter"] - t1) // 86400 <= c["daysLeft"] \
                <= (c["notAfter"] - t0) // 86400, c
            assert c["daysLeft"] in (days - 1, days), c
        assert short["healthy"] is False and long_["healthy"] is True
        assert short["tls"] == "selfsigned" and long_["tls"] == "acme"
        assert env["healthy"] is False
        assert any("short.certs.test" in n and "expires in" in n for n in env["notes"]), env
        assert not any("long.certs.test" in n for n in env["notes"]), env

        text = pa.run("status")
        assert text.returncode == 0, describe(text)
        line = [ln for ln in text.stdout.splitlines() if ln.startswith("short.certs.test")]
        assert line and "unhealthy" in line[0], text.stdout
        line = [ln for ln in text.stdout.splitlines() if ln.startswith("long.certs.test")]
        assert line and "healthy, issuer CN=long.certs.test" in line[0], text.stdout

        out_b, _ = status(pb)
        env = env_of(out_b, env_b)
        (mis,) = env["certificates"]
        assert mis["host"] == "mismatch.certs.test"
        assert mis["served"] is True and mis["nameMatch"] is False, mis
        assert mis["subject"] == "CN=other.certs.example,O=press certs test", mis
        assert mis["daysLeft"] in (59, 60) and mis["healthy"] is False, mis
        assert env["healthy"] is False
        assert any("mismatch.certs.test" in n and "does not name it" in n
                   for n in env["notes"]), env

        # plan: a warning for each unhealthy certificate, nothing else.
        plan = pa.plan_json()
        assert [(w["environment"], w["host"]) for w in plan["warnings"]] == \
            [(env_a, "short.certs.test")], plan["warnings"]
        text = pa.plan()
        assert text.returncode == 0, describe(text)
        assert "warning: the certificate of short.certs.test expires in" in text.stdout, \
            text.stdout
        assert "long.certs.test" not in text.stdout
        plan = pb.plan_json()
        assert [w["host"] for w in plan["warnings"]] == ["mismatch.certs.test"]

    # The servers are gone: nothing is served, and that is said.
    out, _ = status(pa)
    certs = {c["host"]: c for c in env_of(out, env_a)["certificates"]}
    for c in certs.values():
        assert c["served"] is False and c["healthy"] is False, c
        assert "refused" in c["error"], c
        assert c["daysLeft"] is None and c["subject"] is None
    pa.assert_no_secrets()
    pb.assert_no_secrets()


def test_certificates_in_watch_metrics(services, pressctl, tmp_path):
    """watch mode: after a pass, /metrics has the certificate families.
    The watcher applies, so here the https port is the ingress's own (Caddy,
    docs/ingress.md): the selfsigned certificate pressctl made is served
    and healthy; the ACME host has none (no ACME server is reachable: the
    CA is a closed port on 127.0.0.1) and is unhealthy."""
    from watch_helpers import sample, watching
    from test_tls import openssl_x509, served_pem

    port = free_port()
    ca = f"https://127.0.0.1:{free_port()}/directory"
    p, env_id = platform(services, pressctl, tmp_path / "w", "certs-w", port,
                         [("self.certs.test", "selfsigned"), ("acme.certs.test", "acme")],
                         extra=f"    acmeCA: \"{ca}\"\n")
    quick = ["--debounce", "100ms", "--resync", "3600s"]
    with watching(pressctl, [p.src, *quick], services.env_vars(), tmp_path, "certs") as w:
        w.wait_reconciled(timeout=90)
        m = w.metrics()
        text = w.metrics_text()
    pem = served_pem(port, "self.certs.test")
    stamp = openssl_x509(pem, "-enddate").strip().split("=", 1)[1]
    expiry = int(time.mktime(time.strptime(stamp, "%b %d %H:%M:%S %Y GMT")) - time.timezone)
    labels = {"env": env_id, "host": "self.certs.test"}
    assert sample(m, "pressctl_certificate_healthy", **labels) == 1, text
    assert sample(m, "pressctl_certificate_expiry_timestamp_seconds", **labels) == expiry, text
    assert sample(m, "pressctl_certificate_days_left", **labels) in (89, 90), text
    assert sample(m, "pressctl_certificate_healthy", env=env_id, host="acme.certs.test") == 0, text
    assert "# TYPE pressctl_certificate_healthy gauge" in text
