"""Differential test of pressctl's built-in JSON Schema validator against
Debian's python3-jsonschema (Draft7Validator) on schema/manifest.schema.json.

For every YAML document of tests/fixtures/ (good and bad), examples/ and
manifests/ the two must agree on the verdict: a document is schema-invalid
for pressctl iff `pressctl validate FILE --format json` reports a diagnostic
with code "schema" for that file and document index. Python reads the YAML
with the YAML 1.2 core typing pressctl uses (helpers.CoreLoader).

Skipped, and counted: documents PyYAML cannot parse, and documents of a
file at or after the first document pressctl rejected with code "yaml"
(pressctl abandons a file at its first structural error; PyYAML accepts
anchors, tags and duplicate keys that pressctl refuses).
"""

import jsonschema
import yaml

import helpers
from helpers import FIXTURES, MANIFESTS, rel, validate_json

MIN_COMPARED = 100


def _files():
    roots = [FIXTURES / "good", FIXTURES / "bad", MANIFESTS]
    roots += helpers.example_repos()
    files = []
    for r in roots:
        if r.exists():
            files += helpers.manifest_files(r)
    return files


def test_schema_verdicts_agree(pressctl, manifest_schema):
    validator = jsonschema.Draft7Validator(manifest_schema)
    files = _files()
    assert files, "no manifest files found"
    compared = agree_invalid = 0
    skipped_pyyaml = skipped_yaml = 0
    mismatches, count_mismatches = [], []

    for f in files:
        shown = rel(f)
        proc, report = validate_json(pressctl, shown)
        diags = [d for d in report["diagnostics"] if d["file"] == shown]
        strays = [d for d in report["diagnostics"]
                  if d["file"] != shown and d["code"] in ("schema", "yaml")]
        assert not strays, f"{shown}: diagnostics for another file: {strays}"
        schema_docs = {d["document"] for d in diags if d["code"] == "schema"}
        yaml_docs = [d["document"] for d in diags if d["code"] == "yaml"]
        # From the first YAML error on, pressctl's view of the file ends.
        cut = None
        if yaml_docs:
            cut = 0 if -1 in yaml_docs else min(yaml_docs)

        text = f.read_text(encoding="utf-8")
        complete = True
        try:
            docs = helpers.load_documents(text)
        except yaml.YAMLError as e:
            docs, complete = e.partial, False
            skipped_pyyaml += 1
        for i, doc in docs:
            if doc is None:
                assert i not in schema_docs, f"{shown}: schema error for empty document {i}"
                continue
            if cut is not None and i >= cut:
                skipped_yaml += 1
                continue
            compared += 1
            py_errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            py_invalid = bool(py_errors)
            c_invalid = i in schema_docs
            if py_invalid and c_invalid:
                agree_invalid += 1
            if py_invalid != c_invalid:
                detail = ("; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:120]}"
                                    for e in py_errors[:3]) if py_invalid else
                          "; ".join(f"{d['line']}:{d['column']} {d['message']}"
                                    for d in diags if d["code"] == "schema"
                                    and d["document"] == i))
                mismatches.append(
                    f"{shown} document {i}: python-jsonschema says "
                    f"{'invalid' if py_invalid else 'valid'}, pressctl says "
                    f"{'invalid' if c_invalid else 'valid'} ({detail})")
        # Documents pressctl reported on must exist.
        n = len(docs)
        for d in diags:
            if d["code"] == "schema":
                assert 0 <= d["document"] < n or cut is not None, \
                    f"{shown}: schema diagnostic for document {d['document']} of {n}"
        if cut is None and complete:
            nonempty = sum(1 for _, d in docs if d is not None)
            if report["counts"]["documents"] != nonempty:
                count_mismatches.append(f"{shown}: pressctl counted "
                                        f"{report['counts']['documents']}, python {nonempty}")

    summary = (f"compared {compared} documents of {len(files)} files "
               f"({agree_invalid} invalid for both); skipped {skipped_yaml} after a "
               f"'yaml' error, {skipped_pyyaml} files PyYAML could not read to the end")
    print("\n" + summary)
    assert not mismatches, (f"{len(mismatches)} verdicts differ ({summary}):\n  "
                            + "\n  ".join(mismatches))
    assert compared >= MIN_COMPARED, f"too few documents compared: {summary}"
    assert not count_mismatches, ("counts.documents must be the number of non-empty "
                                  "documents read, valid or not:\n  "
                                  + "\n  ".join(count_mismatches[:20]))
    assert agree_invalid >= 30, f"too few schema-invalid documents exercised: {summary}"
