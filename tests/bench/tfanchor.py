"""The Terraform anchor of the no-op plan benchmark (docs/design.md §9).

converge.py calls compare() right after it has measured pressctl's plan of
N environments with nothing to do, while its private s3rver still runs.
compare() lets Terraform manage the very N buckets that plan observed (one
per environment, imported, not created) and times N-bucket no-op plans
through measure.py, then prints pressctl's median, Terraform's median and
their ratio (Terraform / pressctl). Two machines differ; the ratio between
two tools measured in the same run, on the same server, differs less.

What Terraform runs: the hashicorp/aws provider from a local filesystem
mirror (no registry is asked; `terraform init` works offline), configured
for s3rver (path-style, no credential, account or region checks), one plain
`aws_s3_bucket` per bucket and no sub-resources. Its refresh is the full
read of an aws_s3_bucket, about 16 requests a bucket: HeadBucket, the
location, then policy, ACL, CORS, website, versioning, accelerate, request
payment, logging, lifecycle, replication, encryption, object lock and
tagging. s3rver 3.7.1 answers policy 405; ACL, request payment, lifecycle,
replication, encryption, object lock and tagging 501 NotImplemented; CORS
and website 404 (none); versioning, accelerate and logging with the
bucket's object listing. The provider (checked with 5.100.0) takes all of
these as "no such configuration" and plans cleanly, so the anchor is the
whole resource as a Terraform user writes it, not a cut-down one; no
sub-resource (aws_s3_bucket_versioning, ...) is declared, as each would add
its own reads. Real S3 answers those reads with documents, not quick
errors, so Terraform here is if anything faster than it would be there.
Timed: `terraform plan -refresh=true -input=false -lock=false
-detailed-exitcode` with Terraform's default parallelism (10); exit 2
(changes) fails like any failing command.

The comparison is not like for like in pressctl's favour: pressctl's
figure is a plan of whole environments (PostgreSQL roles and schemas,
buckets, containers), Terraform's covers the buckets only. The output says
so.

Skipped, with the reason on one line and never a failure, when there is no
terraform (PATH, or $TERRAFORM), no hashicorp/aws provider >= 5 in a local
mirror ($BENCH_TF_PLUGINS, else Terraform's implied mirror directories and
/opt/tf-plugins), or `terraform init` cannot install it from there. Once
init has worked, a failing import or plan fails the benchmark (exit 1).

The peak RSS on Terraform's line is the largest single process (wait4's
ru_maxrss covers the provider, which terraform waits for, as a maximum,
not a sum). Standard library only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Terraform's implied local mirror directories on Unix, then this kind of
# machine's.
MIRRORS = ("~/.terraform.d/plugins", "$XDG_DATA_HOME/terraform/plugins",
           "~/.local/share/terraform/plugins", "/usr/local/share/terraform/plugins",
           "/usr/share/terraform/plugins", "/opt/tf-plugins")
AWS = "registry.terraform.io/hashicorp/aws"

MAIN_TF = """\
# Written by tests/bench/tfanchor.py: the Terraform anchor of the no-op plan
# benchmark. One plain aws_s3_bucket per bucket pressctl created.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "%(version)s" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "S3RVER"
  secret_key                  = "S3RVER"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  endpoints {
    s3 = "http://127.0.0.1:%(port)d"
  }
}

variable "buckets" {
  type = list(string)
}

resource "aws_s3_bucket" "b" {
  for_each = toset(var.buckets)
  bucket   = each.key
}
"""

# Present for the one untimed apply only: the timed plans have no imports.
IMPORTS_TF = """\
import {
  for_each = toset(var.buckets)
  to       = aws_s3_bucket.b[each.key]
  id       = each.key
}
"""

CLI_CONFIG = """\
# Offline: hashicorp/aws from the local mirror, nothing from a registry.
provider_installation {
  filesystem_mirror {
    path    = "%(mirror)s"
    include = ["%(aws)s"]
  }
}
"""


def tf_env(cli_config):
    """The environment of every terraform run: no TF_* or AWS_* of the
    caller (a profile or a plugin cache would change what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    env.update({"TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1", "LC_ALL": "C.UTF-8"})
    return env


def version_key(v):
    return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.-]", v))


def find_provider(platform):
    """(mirror, version) of the newest hashicorp/aws >= 5 for platform in a
    local mirror, unpacked or packed layout; or (None, where we looked)."""
    if os.environ.get("BENCH_TF_PLUGINS"):
        dirs = [os.environ["BENCH_TF_PLUGINS"]]
    else:
        dirs = [os.path.expanduser(os.path.expandvars(d)) for d in MIRRORS]
        dirs = [d for d in dirs if "$" not in d]
    best = None
    for d in dirs:
        base = Path(d) / AWS
        if not base.is_dir():
            continue
        found = [v.name for v in base.iterdir() if (v / platform).is_dir()]
        found += [m.group(1) for z in base.glob("terraform-provider-aws_*_%s.zip" % platform)
                  for m in [re.match(r"terraform-provider-aws_(.+)_%s\.zip$" % platform, z.name)]
                  if m]
        for v in found:
            if version_key(v)[0] >= 5 and (best is None or version_key(v) > version_key(best[1])):
                best = (d, v)
    if best:
        return best
    return None, ", ".join(dirs)


def skip(why):
    print("terraform anchor: skipped (%s)" % why, flush=True)


def tf(terraform, env, workdir, *args):
    """Run terraform in workdir; (returncode, output)."""
    proc = subprocess.run([terraform, "-chdir=" + str(workdir), *args], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return proc.returncode, proc.stdout


def failed(what, rc, out):
    sys.stderr.write(out[-6000:])
    print("terraform anchor: FAILED: %s exited with status %d" % (what, rc), file=sys.stderr)
    sys.exit(1)


def compare(work, s3_port, buckets, runs, record, pressctl_median):
    """Time Terraform's no-op plan of buckets (names that exist on the
    s3rver at s3_port) and print it next to pressctl_median. Work files go
    to work/terraform. Returns Terraform's median, or None when skipped;
    exits 1 when a terraform command fails after init."""
    n = len(buckets)
    terraform = os.environ.get("TERRAFORM")
    if terraform:
        if not (os.path.isfile(terraform) and os.access(terraform, os.X_OK)):
            skip("TERRAFORM=%s is not an executable file" % terraform)
            return None
    else:
        terraform = shutil.which("terraform")
        if not terraform:
            skip("no terraform on PATH; install it or set TERRAFORM")
            return None
    wd = Path(work) / "terraform"
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    cli = wd / "cli.tfrc"
    cli.write_text("", encoding="utf-8")
    env = tf_env(cli)
    try:
        info = json.loads(subprocess.run([terraform, "version", "-json"], env=env,
                                         capture_output=True, text=True,
                                         stdin=subprocess.DEVNULL).stdout)
        tf_version, platform = info["terraform_version"], info["platform"]
    except (OSError, ValueError, KeyError) as exc:
        skip("'%s version -json' did not answer: %s" % (terraform, exc))
        return None
    mirror, version = find_provider(platform)
    if not mirror:
        skip("no hashicorp/aws >= 5 for %s in a local provider mirror (looked in %s); "
             "set BENCH_TF_PLUGINS" % (platform, version))
        return None

    cli.write_text(CLI_CONFIG % {"mirror": mirror, "aws": AWS}, encoding="utf-8")
    (wd / "main.tf").write_text(MAIN_TF % {"version": version, "port": s3_port},
                                encoding="utf-8")
    (wd / "terraform.tfvars.json").write_text(json.dumps({"buckets": buckets}),
                                              encoding="utf-8")
    rc, out = tf(terraform, env, wd, "init", "-input=false", "-no-color")
    if rc != 0:
        sys.stdout.write("".join("  | " + line + "\n" for line in out.strip().splitlines()[-8:]))
        skip("terraform init could not install hashicorp/aws %s from %s offline"
             % (version, mirror))
        return None

    # Setup, untimed: the buckets pressctl created go into Terraform's state.
    imports = wd / "imports.tf"
    imports.write_text(IMPORTS_TF, encoding="utf-8")
    t0 = time.perf_counter()
    rc, out = tf(terraform, env, wd, "apply", "-auto-approve", "-input=false", "-no-color")
    if rc != 0:
        failed("terraform apply (import of %d buckets)" % n, rc, out)
    summary = [line for line in out.splitlines() if line.startswith("Apply complete")]
    if not summary or ("%d imported, 0 added, 0 changed, 0 destroyed" % n) not in summary[0]:
        failed("terraform apply (expected %d imports and nothing else)" % n, 1, out)
    imports.unlink()
    print("terraform anchor: terraform %s, hashicorp/aws %s (mirror %s); one plain "
          "aws_s3_bucket per bucket, no sub-resources; setup: import the %d buckets "
          "(untimed: %.1f s)" % (tf_version, version, mirror, n, time.perf_counter() - t0),
          flush=True)

    # No warm-up run: the import above was one (the provider loaded, every
    # bucket read), and a Terraform plan of 1,000 buckets is long.
    label = "terraform plan %d S3 buckets (live, nothing to do)" % n
    cmd = [sys.executable, str(HERE / "measure.py"), "--label", label,
           "--runs", str(runs), "--warmup", "0", "--record", str(record), "--",
           terraform, "-chdir=" + str(wd), "plan", "-refresh=true", "-input=false",
           "-lock=false", "-no-color", "-detailed-exitcode"]
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(1)
    with open(record, encoding="utf-8") as f:
        median = float(f.read().splitlines()[-1].split("\t")[1])
    print("no-op plan, pressctl %d environments vs terraform %d buckets: pressctl median "
          "%.3f s, terraform median %.3f s, ratio %.1f (terraform / pressctl; pressctl "
          "reads PostgreSQL, S3 and Docker, terraform S3 only)"
          % (n, n, pressctl_median, median, median / pressctl_median), flush=True)
    return median
