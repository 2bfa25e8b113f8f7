#!/usr/bin/python3
"""Scale check of the ingress without host ports (docs/design.md §9,
issue 11's acceptance 6), run by scale-ingress.sh once it has started
private services and Caddy:

    scale_ingress.py --pg-port P --s3-port P --docker-sock PATH
                     --master-key FILE --caddy-admin URL --http PORT
                     --work DIR [--envs 1000] [--parallel 8]

A platform whose port range holds 4 ports, with an ingress, declares
--envs environments (one container each, no host port: the ingress
reaches them on the platform's network, a free 10.X.0.0/16 set by runtime.subnet) and
one Domain per environment. It applies them once (timed, pressctl's peak
RSS), asks every host through the ingress for /cgi-bin/env and checks
that it answers from its own environment, reads the memory of Caddy and
dockerd, and checks that a following plan has nothing to do.

Prints one line per figure; exits 1 when the apply fails, a host does not
answer from its environment, or the plan after it is not empty. Timing
never fails it.
"""

import argparse
import concurrent.futures
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import run_once  # noqa: E402

IMAGE = "local/press-test-app:1"


def free_subnet():
    """A 10.X.0.0/16 that no route of the host overlaps: the host must
    route the network's addresses to its bridge, and a bridge left
    behind by another engine with the same subnet would take them."""
    import ipaddress
    import random
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True,
                            text=True).stdout.split("\n")
    taken = []
    for line in routes:
        word = line.split(" ", 1)[0]
        if word and word[0].isdigit():
            taken.append(ipaddress.ip_network(word, strict=False))
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(100, 250)}.0.0/16")
        if not any(net.overlaps(t) for t in taken):
            return str(net)
    sys.exit("scale_ingress.py: no free 10.X.0.0/16 subnet on this host")


def write_config(out, args):
    out.mkdir(parents=True, exist_ok=True)
    (out / "platform.yaml").write_text(f"""\
apiVersion: press/v1
kind: Platform
metadata:
  name: scale
spec:
  postgres:
    dsn: {{env: PRESS_PG_DSN}}
    maxConnections: 8
  s3:
    endpoint: "http://127.0.0.1:{args.s3_port}"
    region: us-east-1
    accessKey: {{env: PRESS_S3_ACCESS_KEY}}
    secretKey: {{env: PRESS_S3_SECRET_KEY}}
  runtime:
    driver: docker
    socket: "{args.docker_sock}"
    network: scale
    subnet: "{args.subnet}"
  naming:
    prefix: scale
  ports:
    from: 20000
    to: 20003
  secrets:
    masterKey: {{file: "{args.master_key}"}}
  ingress:
    driver: caddy
    admin: "{args.caddy_admin}"
    http: {args.http}
""", encoding="utf-8")
    docs = [f"""\
apiVersion: press/v1
kind: Site
metadata:
  name: sc
spec:
  app: generic
  image: {IMAGE}
  health: {{path: /healthz, timeoutSeconds: 60}}
"""]
    for i in range(args.envs):
        docs.append(f"""\
apiVersion: press/v1
kind: Environment
metadata:
  name: e{i}
spec:
  site: sc
  stage: development
  env: {{WHO: sc-e{i}}}
---
apiVersion: press/v1
kind: Domain
metadata:
  name: e{i}
spec:
  host: e{i}.scale.test
  environment: sc/e{i}
  tls: none
""")
    (out / "sites.yaml").write_text("---\n".join(docs), encoding="utf-8")


def who(port, host):
    """The WHO its container answers with, or a description of what came."""
    for attempt in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/cgi-bin/env", headers={"Host": host})
            r = conn.getresponse()
            body = r.read().decode(errors="replace")
            if r.status == 200:
                for line in body.splitlines():
                    if line.startswith("WHO="):
                        return line[4:]
            last = f"HTTP {r.status}"
        except OSError as e:
            last = str(e)
        finally:
            conn.close()
        time.sleep(1)
    return last


def rss_mib(pattern):
    """Total resident memory of the processes whose command matches."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    total = 0
    for pid in out.split():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for a in ("--pg-port", "--s3-port", "--http"):
        ap.add_argument(a, type=int, required=True)
    for a in ("--docker-sock", "--master-key", "--caddy-admin", "--work", "--svc"):
        ap.add_argument(a, required=True)
    ap.add_argument("--envs", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=8)
    args = ap.parse_args()
    args.subnet = free_subnet()
    pressctl = os.environ.get("PRESSCTL", str(HERE.parents[1] / "bin" / "pressctl"))
    os.environ.update({
        "PRESS_PG_DSN": f"postgresql://postgres@127.0.0.1:{args.pg_port}/press",
        "PRESS_S3_ACCESS_KEY": "S3RVER",
        "PRESS_S3_SECRET_KEY": "S3RVER",
        "LC_ALL": "C.UTF-8",
    })
    src = Path(args.work) / "src"
    write_config(src, args)
    print(f"scale-ingress: {args.envs} environments, one Domain each, a port range "
          f"of 4 ports, network subnet {args.subnet}, --parallel {args.parallel}", flush=True)

    secs, rss, rc, out = run_once([pressctl, "apply", str(src), "--parallel",
                                   str(args.parallel)])
    tail = out.strip().splitlines()[-1:] or [""]
    print(f"scale-ingress: apply: {secs:.1f} s, pressctl peak RSS {rss / 1024:.1f} MiB, "
          f"exit {rc}: {tail[0]}", flush=True)
    if rc != 0:
        failed = [ln for ln in out.splitlines() if '"outcome":"done"' not in ln
                  and ("failed" in ln or "error" in ln)]
        print("\n".join(failed[:20]))
        print(out[-2000:])
        return 1

    t0 = time.perf_counter()
    hosts = [(f"e{i}.scale.test", f"sc-e{i}") for i in range(args.envs)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda h: who(args.http, h[0]), hosts))
    bad = [(h, w, g) for (h, w), g in zip(hosts, got) if g != w]
    print(f"scale-ingress: hosts answering from their environment: "
          f"{len(hosts) - len(bad)} of {len(hosts)} ({time.perf_counter() - t0:.1f} s)",
          flush=True)
    for h, w, g in bad[:10]:
        print(f"scale-ingress:   {h}: want {w}, got {g}")

    print(f"scale-ingress: memory: caddy {rss_mib('caddy run --config ' + args.svc):.0f} MiB, "
          f"dockerd {rss_mib('dockerd --host unix://' + args.docker_sock):.0f} MiB, "
          f"containerd-shims {rss_mib('containerd-shim.*-address ' + args.svc):.0f} MiB", flush=True)

    secs, rss, rc, out = run_once([pressctl, "plan", str(src), "--detailed-exitcode"])
    print(f"scale-ingress: no-op plan: {secs:.2f} s, peak RSS {rss / 1024:.1f} MiB, "
          f"exit {rc} (0: nothing to do)", flush=True)
    if rc != 0:
        print(out[-4000:])
    return 1 if bad or rc != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
