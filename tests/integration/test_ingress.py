"""The ingress: Domains routed through Caddy (docs/drivers.md "Caddy",
docs/design.md §3, docs/manifest.md "Domain").

Black-box tests against the session's Caddy (started by scripts/services.sh
with the other backends), PostgreSQL, s3rver and dockerd. Requests go to the
ingress port with the Host header a browser would send for the host; the
answers come from the site containers themselves (the test image's
/cgi-bin/env names the environment). Caddy's configuration is read and
changed through its admin API, as an operator would.

A preview without a Domain answers on the host generated from the
platform's domains.previewWildcard until it goes (its file removed, or
its expiry).

Every test has its own platform (name, prefix, port slice) and its own
ingress port: each platform's routes live in a server of its own.
"""

import json
import threading
import time

from converge_helpers import Platform, clock, dump, env_doc, host_port, http_get, site_doc
from helpers import describe
from services import free_port


def ingress_block(services, port):
    return (f"  ingress:\n    driver: caddy\n    admin: \"{services.caddy_admin}\"\n"
            f"    http: {port}\n")


def domain_doc(name, host, environment, redirects=None, tls="none"):
    spec = {"host": host, "environment": environment, "tls": tls}
    if redirects:
        spec["redirects"] = redirects
    return {"apiVersion": "press/v1", "kind": "Domain",
            "metadata": {"name": name}, "spec": spec}


class Ingress:
    """A platform with an ingress on a port of its own."""

    def __init__(self, services, pressctl, tmp_path, name, extra="", nports=8):
        self.services = services
        self.port = free_port()
        self.p = Platform(services, pressctl, tmp_path, name=name, prefix=name,
                          nports=nports,
                          extra_platform=ingress_block(services, self.port) + extra)
        self.name = name
        self.server = f"press.{name}"

    def get(self, host, path="/", tries=1):
        """(status, headers, body text) of GET path with Host host on the
        ingress port; retried while nothing listens yet."""
        last = None
        for _ in range(tries):
            try:
                st, hd, body = self.services.ingress_get(f"{host}:{self.port}", path,
                                                         port=self.port)
                return st, hd, body.decode(errors="replace")
            except OSError as e:
                last = e
                time.sleep(0.3)
        raise AssertionError(f"the ingress on port {self.port} does not answer: {last}")

    def who(self, host):
        """The WHO variable of the environment that answered for host."""
        st, _, body = self.get(host, "/cgi-bin/env", tries=10)
        assert st == 200, f"{host}: HTTP {st}: {body[:300]}"
        env = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
        return env.get("WHO")

    def routes(self):
        """{@id: route} of this platform's server in Caddy."""
        st, routes = self.services.caddy(
            "GET", f"/config/apps/http/servers/{self.server}/routes")
        assert st == 200, (st, routes)
        return {r.get("@id"): r for r in routes or []}

    def plan_actions(self):
        plan = self.p.plan_json()
        return [(a["action"], a["kind"], a["name"], a["environment"], a["reason"])
                for a in plan["actions"]]


def declare(ing, site, envs, domains):
    """Site `site` with environments {name: WHO} and the Domains."""
    docs = [site_doc(site)]
    for env, who in envs.items():
        docs.append(env_doc(site, env, stage="production" if env == "prod" else "staging",
                            env={"WHO": who}))
    dump(ing.p.src / "site.yaml", *docs)
    if domains:
        dump(ing.p.src / "domains.yaml", *domains)
    else:
        (ing.p.src / "domains.yaml").unlink(missing_ok=True)


def test_hosts_reach_their_environment_redirects_and_unknown_hosts(
        services, pressctl, tmp_path):
    ing = Ingress(services, pressctl, tmp_path, "ing-a")
    declare(ing, "inga", {"prod": "inga-prod", "stage": "inga-stage"}, [
        domain_doc("shop", "shop.inga.test", "inga/prod", redirects=["www.shop.inga.test"]),
        domain_doc("stage", "stage.inga.test", "inga/stage"),
    ])
    ing.p.apply()
    ing.p.assert_converged()

    # Each host answers from its own environment's container.
    assert ing.who("shop.inga.test") == "inga-prod"
    assert ing.who("stage.inga.test") == "inga-stage"

    # The redirect host answers a permanent redirect to the primary host.
    st, hd, _ = ing.get("www.shop.inga.test", "/some/path?q=1")
    assert st in (301, 308), f"www.shop.inga.test answered HTTP {st}"
    assert hd.get("location") == f"http://shop.inga.test:{ing.port}/some/path?q=1", hd

    # A host no Domain declares reaches no site.
    st, _, body = ing.get("unknown.inga.test", "/cgi-bin/env")
    assert st == 404, f"an unknown host answered HTTP {st}: {body[:300]}"
    assert "WHO=" not in body

    # In Caddy: the platform's routes carry its name in their @id, the
    # catch-all comes last.
    ids = list(ing.routes())
    assert sorted(ids[:-1]) == ["press.ing-a.shop", "press.ing-a.stage"], ids
    assert ids[-1] == "press.ing-a.404", ids
    ing.p.assert_no_secrets()


def test_adding_and_removing_a_domain_changes_exactly_its_routes(
        services, pressctl, tmp_path):
    ing = Ingress(services, pressctl, tmp_path, "ing-b")
    one = domain_doc("one", "one.ingb.test", "ingb/prod")
    two = domain_doc("two", "two.ingb.test", "ingb/stage", redirects=["www.two.ingb.test"])
    declare(ing, "ingb", {"prod": "ingb-prod", "stage": "ingb-stage"}, [one])
    ing.p.apply()
    before = ing.routes()
    assert set(before) == {"press.ing-b.one", "press.ing-b.404"}, before
    st, _, _ = ing.get("two.ingb.test")
    assert st == 404

    # Add: exactly one route, of that environment.
    declare(ing, "ingb", {"prod": "ingb-prod", "stage": "ingb-stage"}, [one, two])
    assert ing.plan_actions() == [
        ("create", "route", "press.ing-b.two", "ingb/stage", "new")]
    ing.p.apply()
    after = ing.routes()
    assert set(after) == {"press.ing-b.one", "press.ing-b.two", "press.ing-b.404"}, after
    assert after["press.ing-b.one"] == before["press.ing-b.one"], \
        "adding a Domain changed another environment's route"
    assert ing.who("two.ingb.test") == "ingb-stage"
    assert ing.get("www.two.ingb.test")[0] in (301, 308)
    ing.p.assert_converged()

    # Remove: exactly that route goes.
    declare(ing, "ingb", {"prod": "ingb-prod", "stage": "ingb-stage"}, [one])
    assert ing.plan_actions() == [
        ("remove", "route", "press.ing-b.two", "ingb/stage", "changed")]
    ing.p.apply()
    final = ing.routes()
    assert set(final) == {"press.ing-b.one", "press.ing-b.404"}, final
    assert final["press.ing-b.one"] == before["press.ing-b.one"]
    assert ing.get("two.ingb.test")[0] == 404
    assert ing.get("www.two.ingb.test")[0] == 404
    assert ing.who("one.ingb.test") == "ingb-prod"
    ing.p.assert_converged()


def test_routes_changed_by_hand_are_drift_healed_by_apply(services, pressctl, tmp_path):
    ing = Ingress(services, pressctl, tmp_path, "ing-c")
    declare(ing, "ingc", {"prod": "ingc-prod"},
            [domain_doc("web", "web.ingc.test", "ingc/prod")])
    ing.p.apply()
    good = ing.routes()["press.ing-c.web"]

    # Someone points the route elsewhere.
    bad = json.loads(json.dumps(good))
    bad["match"][0]["host"] = ["other.ingc.test"]
    st, body = services.caddy("PATCH", "/id/press.ing-c.web", bad)
    assert st == 200, body
    assert ing.get("web.ingc.test")[0] == 404
    assert ing.plan_actions() == [("heal", "route", "press.ing-c.web", "ingc/prod", "drift")]
    assert ing.p.plan("--detailed-exitcode").returncode == 2
    ing.p.apply()
    assert ing.routes()["press.ing-c.web"] == good
    assert ing.who("web.ingc.test") == "ingc-prod"
    ing.p.assert_converged()

    # Someone deletes it, and the catch-all.
    for rid in ("press.ing-c.web", "press.ing-c.404"):
        st, body = services.caddy("DELETE", f"/id/{rid}")
        assert st == 200, body
    actions = ing.plan_actions()
    assert actions == [("create", "route", "press.ing-c.web", "ingc/prod", "drift")], actions
    # A route that is not pressctl's is left alone.
    foreign = {"@id": "someone-else", "match": [{"host": ["x.ingc.test"]}],
               "handle": [{"handler": "static_response", "body": "theirs"}]}
    st, body = services.caddy(
        "POST", f"/config/apps/http/servers/{ing.server}/routes", foreign)
    assert st == 200, body
    ing.p.apply()
    routes = ing.routes()
    assert routes["press.ing-c.web"] == good
    assert routes["someone-else"] == foreign
    assert list(routes)[-1] == "press.ing-c.404"
    assert ing.who("web.ingc.test") == "ingc-prod"
    assert ing.get("nowhere.ingc.test")[0] == 404
    ing.p.assert_converged()


def test_blue_green_rollout_behind_the_ingress_drops_no_request(
        services, pressctl, tmp_path):
    ing = Ingress(services, pressctl, tmp_path, "ing-d")
    declare(ing, "ingd", {"prod": "ingd-prod"},
            [domain_doc("web", "web.ingd.test", "ingd/prod")])
    ing.p.apply()
    assert ing.get("web.ingd.test", "/version", tries=10)[2].strip() == "1"

    results, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            try:
                st, _, body = ing.services.ingress_get(
                    f"web.ingd.test:{ing.port}", "/version", port=ing.port)
                results.append((st, body.decode(errors="replace").strip()))
            except OSError as e:
                results.append((None, str(e)))

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        dump(ing.p.src / "site.yaml", site_doc("ingd", image="local/press-test-app:2"),
             env_doc("ingd", "prod", stage="production", env={"WHO": "ingd-prod"}))
        proc = ing.p.apply()
        # Until the new version answers through the ingress.
        for _ in range(100):
            if results and results[-1][1] == "2":
                break
            time.sleep(0.1)
    finally:
        stop.set()
        t.join(timeout=60)
    failed = [r for r in results if r[0] != 200]
    assert not failed, (f"{len(failed)} of {len(results)} requests failed during the "
                        f"rollout, first: {failed[:5]}" + describe(proc))
    bodies = {b for _, b in results}
    assert bodies <= {"1", "2"}, bodies
    assert results[-1][1] == "2", results[-5:]
    assert "1" in bodies, "no request was made before the switch"
    ing.p.assert_converged()


def test_preview_answers_on_its_generated_host_until_it_goes(
        services, pressctl, tmp_path):
    wildcard = "  domains:\n    previewWildcard: \"*.preview.ingp.test\"\n"
    ing = Ingress(services, pressctl, tmp_path, "ing-p", extra=wildcard)
    host, rid = "ingp-pr-1.preview.ingp.test", "press.ing-p.preview.ingp.pr-1"
    declare(ing, "ingp", {"prod": "ingp-prod"},
            [domain_doc("web", "web.ingp.test", "ingp/prod")])
    ing.p.apply()
    web = ing.routes()["press.ing-p.web"]
    preview = env_doc("ingp", "pr-1", stage="preview", expiresAfterHours=2,
                      env={"WHO": "ingp-pr-1"})

    def add_preview():
        dump(ing.p.src / "pr-1.yaml", preview)
        acts = ing.plan_actions()
        assert ("create", "route", rid, "ingp/pr-1", "new") in acts, acts
        ing.p.apply()
        routes = ing.routes()
        assert set(routes) == {"press.ing-p.web", rid, "press.ing-p.404"}, routes
        assert routes[rid]["match"] == [{"host": [host]}], routes[rid]
        assert list(routes)[-1] == "press.ing-p.404", list(routes)
        # The generated host answers from the preview's own container.
        assert ing.who(host) == "ingp-pr-1"
        assert "ing-p-ingp-pr-1" in ing.p.containers()
        assert ing.who("web.ingp.test") == "ingp-prod"

    def assert_unrouted():
        routes = ing.routes()
        assert set(routes) == {"press.ing-p.web", "press.ing-p.404"}, routes
        assert routes["press.ing-p.web"] == web
        st, _, body = ing.get(host, "/cgi-bin/env")
        assert st == 404, f"{host} answered HTTP {st} after the preview left: {body[:300]}"
        assert "WHO=" not in body
        assert "ing-p-ingp-pr-1" not in ing.p.containers()
        assert ing.who("web.ingp.test") == "ingp-prod"

    # Added by a file: routed; removed: the route goes with everything else.
    add_preview()
    ing.p.assert_converged()
    (ing.p.src / "pr-1.yaml").unlink()
    acts = ing.plan_actions()
    assert ("remove", "route", rid, "ingp/pr-1", "removed") in acts, acts
    assert all(a[3] == "ingp/pr-1" for a in acts), acts
    ing.p.apply("--allow-mass-delete")
    assert_unrouted()
    ing.p.assert_converged()

    # Added again, then expired by the test clock: the route goes too.
    add_preview()
    later = {"PRESSCTL_NOW": clock(days=0.5)}
    plan = ing.p.plan_json(env=later)
    acts = [(a["action"], a["kind"], a["name"], a["reason"]) for a in plan["actions"]]
    assert ("remove", "route", rid, "expired") in acts, acts
    ing.p.apply(env=later)
    assert_unrouted()
    ing.p.assert_converged(env=later)
    ing.p.assert_no_secrets()


def test_containers_behind_the_ingress_take_no_host_port(services, pressctl, tmp_path):
    """20 environments on a platform whose port range holds 4 ports: the
    range is no ceiling, since the ingress reaches the containers on the
    platform's network. hostPort: true opts one environment back in."""
    ing = Ingress(services, pressctl, tmp_path, "ing-n", nports=4)
    n = 20
    docs = [site_doc("ingn")]
    docs += [env_doc("ingn", f"e{i}", env={"WHO": f"ingn-e{i}"}) for i in range(n)]
    docs.append(env_doc("ingn", "pub", env={"WHO": "ingn-pub"}, hostPort=True))
    dump(ing.p.src / "site.yaml", *docs)
    dump(ing.p.src / "domains.yaml",
         *[domain_doc(f"e{i}", f"e{i}.ingn.test", f"ingn/e{i}") for i in range(n)],
         domain_doc("pub", "pub.ingn.test", "ingn/pub"))
    # 21 environments (84 actions): more than the harness's default limit
    # for one command on a slow (sanitizer) build.
    proc = ing.p.run("apply", "--parallel", "4", timeout=900)
    assert proc.returncode == 0, "apply failed" + describe(proc)
    ing.p.assert_converged()

    containers = ing.p.containers()
    assert len(containers) == n + 1, sorted(containers)
    for i in range(n):
        name = f"ing-n-ingn-e{i}"
        info = containers[name]
        assert not info["HostConfig"].get("PortBindings"), \
            f"{name} publishes a host port: {info['HostConfig']['PortBindings']}"
        assert not ing.p.allocations(name), f"{name} holds host ports"
        nets = info["NetworkSettings"]["Networks"]
        assert list(nets) == [services.network], nets
        addr = nets[services.network]["IPAddress"]
        # The route reaches the container's address on the network.
        dials = json.dumps(ing.routes()[f"press.ing-n.e{i}"])
        assert f'"{addr}:8080"' in dials, (addr, dials)
        assert ing.who(f"e{i}.ingn.test") == f"ingn-e{i}"

    # The opted-in environment publishes a host port from the range and
    # answers on it and through the ingress.
    pub = containers["ing-n-ingn-pub"]
    port = host_port(pub)
    assert ing.p.ports[0] <= port <= ing.p.ports[1], (port, ing.p.ports)
    assert http_get(port, "/healthz", tries=10)[0] == 200
    assert ing.who("pub.ingn.test") == "ingn-pub"

    # A rollout moves the route to the new container's address; nothing
    # is left pointing at the old one.
    old = containers["ing-n-ingn-e0"]["NetworkSettings"]["Networks"][services.network]
    docs[1] = env_doc("ingn", "e0", env={"WHO": "ingn-e0-v2"})
    dump(ing.p.src / "site.yaml", *docs)
    acts = ing.plan_actions()
    assert ("update", "container", "ing-n-ingn-e0", "ingn/e0", "changed") in acts, acts
    assert ("update", "route", "press.ing-n.e0", "ingn/e0", "changed") in acts, acts
    ing.p.apply()
    assert ing.who("e0.ingn.test") == "ingn-e0-v2"
    new = ing.p.containers()["ing-n-ingn-e0"]["NetworkSettings"]["Networks"][services.network]
    dials = json.dumps(ing.routes()["press.ing-n.e0"])
    assert f'"{new["IPAddress"]}:8080"' in dials, dials
    if old["IPAddress"] != new["IPAddress"]:
        assert f'"{old["IPAddress"]}:8080"' not in dials, dials
    ing.p.assert_converged()

    # A container removed by hand comes back, and its route follows.
    services.docker("rm", "-f", "ing-n-ingn-e1")
    ing.p.apply()
    assert ing.who("e1.ingn.test") == "ingn-e1"
    ing.p.assert_converged()
    ing.p.assert_no_secrets()
