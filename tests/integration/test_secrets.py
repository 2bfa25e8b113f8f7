"""No secret in any output (docs/design.md §7; docs/operations.md "Secrets").

The platform's DSN carries a password (a CREATEROLE admin of a database of
its own, scram-sha-256), so that libpq's messages and their scrubbing are
exercised; a site variable comes from a secret reference. After plan,
apply, status, watch and three failures (a wrong password, a database that
does not answer, PostgreSQL refusing mid-run), none of the secrets appears
in stdout, stderr, the watcher's log, the journal and runs rows, or the
containers' labels.
"""

import json
import secrets

from converge_helpers import Platform, derived_password, dump, env_doc, lit, site_doc
from services import free_port
from watch_helpers import watching


def rows_text(services, db, platform):
    """Every journal and runs row of the platform as JSON text."""
    return services.psql(
        f"SELECT coalesce(string_agg(row_to_json(j)::text, E'\\n'), '')"
        f"  FROM pressctl.journal j WHERE platform = {lit(platform)}", db=db) + \
        services.psql(
        f"SELECT coalesce(string_agg(row_to_json(r)::text, E'\\n'), '')"
        f"  FROM pressctl.runs r WHERE platform = {lit(platform)}", db=db)


def test_no_secret_in_any_output(services, pressctl, tmp_path):
    password = "pw-" + secrets.token_hex(16)
    token = "tok-" + secrets.token_hex(16)
    services.psql("DROP DATABASE IF EXISTS press_secret")
    services.psql("DROP ROLE IF EXISTS secret_admin")
    services.psql(f"CREATE ROLE secret_admin LOGIN CREATEROLE PASSWORD {lit(password)}")
    services.psql("CREATE DATABASE press_secret OWNER secret_admin")
    dsn = (f"postgresql://secret_admin:{password}@127.0.0.1:{services.pg_port}"
           f"/press_secret")
    p = Platform(services, pressctl, tmp_path, name="secret-it", prefix="secretit",
                 nports=4, env={"PRESS_PG_DSN": dsn, "SECRET_TOKEN": token})
    p.add_secret(password, token, dsn)
    dump(p.src / "site.yaml", site_doc("secretx", timeout=20,
                                       env={"API_TOKEN": {"env": "SECRET_TOKEN"}}))
    dump(p.src / "staging.yaml", env_doc("secretx", "staging"))

    p.plan()
    p.apply()
    for fmt in ("text", "json", "markdown"):
        p.run("plan", "--format", fmt)
    p.run("status", "--format", "json")
    p.assert_converged()
    # The site got its token (so the secret was really resolved).
    info = services.docker("inspect", "secretit-secretx-staging")
    assert f"API_TOKEN={token}" in info

    # Watch mode, one pass: its log.
    env = {**services.env_vars(), "PRESS_PG_DSN": dsn, "SECRET_TOKEN": token}
    with watching(pressctl, [str(p.src)], env, tmp_path) as w:
        w.wait_reconciled(timeout=60)
        p.outputs.append(w.log_text())
    p.outputs.append(w.log_text())

    # A wrong password, a database that does not answer, and a refusal
    # mid-run (the admin loses LOGIN): errors, none with a secret.
    wrong = dsn.replace(password, "x" + password[1:])
    failed = p.run("plan", env={"PRESS_PG_DSN": wrong})
    assert failed.returncode == 1 and "password authentication failed" in failed.stderr, \
        failed.stderr
    p.add_secret("x" + password[1:])
    closed = dsn.replace(f":{services.pg_port}/", f":{free_port()}/")
    failed = p.run("apply", env={"PRESS_PG_DSN": closed})
    assert failed.returncode == 1 and failed.stderr, failed.stderr
    services.psql("ALTER ROLE secret_admin NOLOGIN")
    try:
        failed = p.run("apply")
        assert failed.returncode == 1 and "not permitted to log in" in failed.stderr, \
            failed.stderr
    finally:
        services.psql("ALTER ROLE secret_admin LOGIN")

    # Rows and labels.
    p.outputs.append(rows_text(services, "press_secret", "secret-it"))
    labels = json.loads(info)[0]["Config"]["Labels"]
    p.outputs.append(json.dumps(labels))
    p.assert_no_secrets(["secretx_staging"])
    for out in p.outputs:
        assert derived_password(services, "secretx_staging") not in out
