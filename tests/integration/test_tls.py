"""TLS for Domains through the caddy ingress (docs/ingress.md, issue 11).

Real Caddy (the session's, started by scripts/services.sh), real TLS:
- `tls: selfsigned`: pressctl makes the certificate with OpenSSL, keeps it
  in its state (the private key sealed under the master key), loads it
  into Caddy, and the https port serves it for the Domain's hosts; plain
  HTTP answers 308 to https://. The certificate is reused by the next
  apply (same serial), put back when removed by hand, and renewed when
  fewer than 30 days are left (the test clock PRESSCTL_NOW moves on).
- `tls: acme`: no ACME server is reachable here, so only the automation
  policy Caddy accepts and returns is checked (its CA is a closed port on
  127.0.0.1, so Caddy's attempts stay on this machine), with the redirect.

The served certificate is read with Python's ssl (SNI = the host) and
inspected with the `openssl` CLI; curl --resolve checks the same host.
"""

import socket
import ssl
import subprocess

from converge_helpers import clock
from services import free_port
from test_ingress import Ingress, declare, domain_doc


def tls_ingress(services, pressctl, tmp_path, name, extra=""):
    https = free_port()
    ing = Ingress(services, pressctl, tmp_path, name, extra=f"    https: {https}\n" + extra)
    ing.https = https
    return ing


def served_pem(port, host):
    """The certificate served on 127.0.0.1:port for SNI host, PEM."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    return ssl.DER_cert_to_PEM_cert(der)


def openssl_x509(pem, *args):
    return subprocess.run(["openssl", "x509", "-noout", *args], input=pem, text=True,
                          capture_output=True, check=True, timeout=30).stdout


def serial(pem):
    return openssl_x509(pem, "-serial").strip().split("=", 1)[1]


def curl_https(ing, host, path):
    """(status, body) of GET https://host:<https>/path through curl --resolve."""
    proc = subprocess.run(
        ["curl", "-sk", "--max-time", "20", "--resolve", f"{host}:{ing.https}:127.0.0.1",
         "-w", "\n%{http_code}", f"https://{host}:{ing.https}{path}"],
        capture_output=True, text=True, timeout=60)
    body, _, code = proc.stdout.rpartition("\n")
    return int(code or 0), body


def caddy_key(services, rid):
    st, body = services.caddy("GET", f"/id/{rid}:cert")
    assert st == 200, (st, body)
    return body["key"]


def test_selfsigned_certificate_served_reused_healed_and_renewed(
        services, pressctl, tmp_path):
    ing = tls_ingress(services, pressctl, tmp_path, "tls-a")
    host, www, rid = "shop.tlsa.test", "www.shop.tlsa.test", "press.tls-a.shop"
    declare(ing, "tlsa", {"prod": "tlsa-prod"},
            [domain_doc("shop", host, "tlsa/prod", redirects=[www], tls="selfsigned")])
    ing.p.apply()
    ing.p.assert_converged()

    # HTTPS: the host answers from its environment, with a certificate
    # naming it and its redirect host.
    pem = served_pem(ing.https, host)
    sans = openssl_x509(pem, "-ext", "subjectAltName")
    assert f"DNS:{host}" in sans and f"DNS:{www}" in sans, sans
    assert f"CN = {host}" in openssl_x509(pem, "-subject"), pem
    first = serial(pem)
    assert serial(served_pem(ing.https, www)) == first
    st, body = curl_https(ing, host, "/cgi-bin/env")
    assert st == 200 and "WHO=tlsa-prod" in body, (st, body[:300])
    st, _ = curl_https(ing, "unknown.tlsa.test", "/")
    assert st != 200

    # Plain HTTP: 308 to https://, redirect hosts straight to the primary.
    st, hd, _ = ing.get(host, "/a/b?q=1")
    assert st == 308 and hd["location"] == f"https://{host}:{ing.https}/a/b?q=1", (st, hd)
    st, hd, _ = ing.get(www, "/x")
    assert st == 308 and hd["location"] == f"https://{host}:{ing.https}/x", (st, hd)

    # The state keeps the certificate, its key sealed.
    rows = services.psql_rows(
        "SELECT serial, strpos(key_sealed, 'PRIVATE KEY'), length(key_sealed)"
        f" FROM pressctl.certificates WHERE platform = 'tls-a' AND name = '{rid}'")
    assert rows == [[first, "0", rows[0][2]]] and int(rows[0][2]) > 100, rows
    key = caddy_key(services, rid)
    assert "PRIVATE KEY" in key
    ing.p.add_secret(key.strip().splitlines()[1])

    # A second apply keeps it.
    ing.p.apply()
    assert serial(served_pem(ing.https, host)) == first
    ing.p.assert_converged()

    # Removed by hand: drift, put back the same.
    st, body = services.caddy("DELETE", f"/id/{rid}:cert")
    assert st == 200, body
    acts = ing.plan_actions()
    assert acts == [("heal", "route", rid, "tlsa/prod", "drift")], acts
    ing.p.apply()
    assert serial(served_pem(ing.https, host)) == first
    ing.p.assert_converged()

    # status probes it: healthy, names the host.
    out = ing.p.status_json()
    (env,) = [e for e in out["environments"] if e["environment"] == "tlsa/prod"]
    (cert,) = env["certificates"]
    assert cert["host"] == host and cert["served"] and cert["nameMatch"], cert
    assert cert["daysLeft"] in (89, 90) and cert["healthy"], cert

    # 65 days on, 25 are left: renewed.
    later = {"PRESSCTL_NOW": clock(days=65)}
    plan = ing.p.plan_json(env=later)
    acts = [(a["action"], a["name"], a["reason"]) for a in plan["actions"]]
    assert acts == [("heal", rid, "drift")], acts
    assert "expires in" in plan["actions"][0]["detail"], plan["actions"][0]
    ing.p.apply(env=later)
    renewed = served_pem(ing.https, host)
    assert serial(renewed) != first
    assert f"DNS:{www}" in openssl_x509(renewed, "-ext", "subjectAltName")
    ing.p.add_secret(caddy_key(services, rid).strip().splitlines()[1])
    ing.p.assert_converged(env=later)

    # Removing the Domain removes every piece and the recorded certificate.
    declare(ing, "tlsa", {"prod": "tlsa-prod"}, [])
    ing.p.apply(env=later)
    st, _ = services.caddy("GET", f"/id/{rid}:cert")
    assert st == 404
    assert services.psql_rows(
        f"SELECT 1 FROM pressctl.certificates WHERE name = '{rid}'") == []

    # The private key never left the ingress in clear: not in any output,
    # nor in the journal or runs.
    ing.p.assert_no_secrets()
    for table, col in (("journal", "error"), ("runs", "summary::text")):
        hits = services.psql(
            f"SELECT count(*) FROM pressctl.{table} WHERE platform = 'tls-a'"
            f" AND strpos(coalesce({col}, ''), 'PRIVATE KEY') > 0")
        assert hits == "0", table


def test_acme_policy_and_redirect(services, pressctl, tmp_path):
    ca = f"https://127.0.0.1:{free_port()}/directory"
    ing = tls_ingress(services, pressctl, tmp_path, "tls-b", extra=f"    acmeCA: \"{ca}\"\n")
    host, rid = "web.tlsb.test", "press.tls-b.web"
    declare(ing, "tlsb", {"prod": "tlsb-prod"},
            [domain_doc("web", host, "tlsb/prod", redirects=["www.tlsb.test"], tls="acme")])
    ing.p.apply()
    ing.p.assert_converged()

    st, policy = services.caddy("GET", f"/id/{rid}:acme")
    assert st == 200, policy
    assert policy["subjects"] == [host, "www.tlsb.test"], policy
    assert policy["issuers"] == [{"module": "acme", "ca": ca}], policy
    st, _ = services.caddy("GET", f"/id/{rid}:cert")
    assert st == 404
    st, srv = services.caddy("GET", "/config/apps/http/servers/press.tls-b:https")
    assert st == 200 and srv["listen"] == [f":{ing.https}"], srv
    st, hd, _ = ing.get(host, "/p")
    assert st == 308 and hd["location"] == f"https://{host}:{ing.https}/p", (st, hd)

    # The policy removed by hand: drift, healed.
    st, body = services.caddy("DELETE", f"/id/{rid}:acme")
    assert st == 200, body
    acts = ing.plan_actions()
    assert acts == [("heal", "route", rid, "tlsb/prod", "drift")], acts
    ing.p.apply()
    st, again = services.caddy("GET", f"/id/{rid}:acme")
    assert st == 200 and again == policy, again
    ing.p.assert_converged()

    # tls: none again: plain HTTP, no TLS piece left.
    declare(ing, "tlsb", {"prod": "tlsb-prod"},
            [domain_doc("web", host, "tlsb/prod", tls="none")])
    ing.p.apply()
    for piece in ("acme", "https", "cert"):
        assert services.caddy("GET", f"/id/{rid}:{piece}")[0] == 404, piece
    assert ing.who(host) == "tlsb-prod"
    ing.p.assert_converged()
    ing.p.assert_no_secrets()
