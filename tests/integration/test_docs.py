"""The documentation says what the schema and the binary do.

1. docs/manifest.md documents every property that schema/manifest.schema.json
   defines (a property of a kind's spec in that kind's section), and every
   field its field tables list exists in the schema.
2. Every property of the schema has a description, and no description is
   empty: editors show them on completion.
3. The examples of docs/man/*.md and README.md run. An example is a line of
   a ```sh block that starts with `pressctl` (a trailing backslash continues
   it on the next line). It is run from the repository root with `pressctl`
   replaced by $PRESSCTL, without a shell, and must exit with the status
   set by the last `# exit: N` comment line above it in its block (0 when
   there is none). Examples that name the placeholder REPO run against a
   scratch git repository built by the ```sh block of docs/man that starts
   with `# setup:` (run in a sandbox under tmp_path, with TMPDIR there);
   REPO becomes its path, BASE its first commit and HEAD its second.
   README.md's ```sh blocks hold a usage synopsis (`[--format text|...]`):
   lines with such metasyntax ([, ], |) are not commands and are not run;
   docs/man keeps synopses in ```text blocks, and the test holds it to that.
   The pre-receive hook of pressctl-validate(1) is installed in a bare
   repository and must accept a valid push and refuse an invalid one.
4. `pressctl --help` lists exactly the commands that have a man page
   (docs/man/pressctl-<command>.md); each page's NAME is the command's
   summary and its OPTIONS are the options of `pressctl <command> --help`.

PRESSCTL names the binary; without it every test that needs it fails.
"""

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import helpers
from helpers import EXAMPLES, REPO, describe, run

MAN = REPO / "docs" / "man"
MANIFEST_DOC = REPO / "docs" / "manifest.md"
README = REPO / "README.md"
KINDS = ("Platform", "Site", "Environment", "BackupPolicy", "Domain")
MAN_SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT",
                "EXIT STATUS", "EXAMPLES", "SEE ALSO")
PLACEHOLDERS = ("REPO", "BASE", "HEAD")
SANITIZER_MARKS = helpers.SANITIZER_MARKS


# --- Markdown -----------------------------------------------------------------

FENCE = re.compile(r"^(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)\s*$")


@dataclass
class Block:
    path: Path
    line: int            # 1-based line of the first line inside the fence
    lang: str
    section: str         # the enclosing "## " heading ("" before the first)
    lines: list


def read_markdown(path):
    """(blocks, sections): the fenced blocks of a Markdown file, and the
    text outside fences of each "## " section, in order, as a list of
    (title, text)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    blocks, sections = [], [("", [])]
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            fence, j = m.group(1), i + 1
            while j < len(lines) and lines[j].strip() != fence:
                j += 1
            blocks.append(Block(Path(path), i + 2, m.group(2),
                                sections[-1][0], lines[i + 1:j]))
            i = j + 1
            continue
        if lines[i].startswith("## "):
            sections.append((lines[i][3:].strip(), []))
        else:
            sections[-1][1].append(lines[i])
        i += 1
    return blocks, [(t, "\n".join(body)) for t, body in sections]


def section_text(sections, title):
    return "\n".join(text for t, text in sections if t == title)


def man_pages():
    return sorted(MAN.glob("pressctl*.md")) if MAN.is_dir() else []


def command_pages():
    """{command: path} of docs/man/pressctl-<command>.md."""
    return {p.name[len("pressctl-"):-len(".md")]: p
            for p in man_pages() if p.name.startswith("pressctl-")}


# --- 1, 2: the manifest reference against the schema -------------------------

SUBSCHEMA_KEYS = ("items", "additionalItems", "additionalProperties",
                  "contains", "propertyNames", "if", "then", "else", "not")


def walk_schema(node, visit, definition=None, path=()):
    """Call visit(node, definition, path) for every subschema: definition is
    the name of the enclosing entry of "definitions" (None at the root),
    path the property names from there down to node."""
    if not isinstance(node, dict):
        return
    visit(node, definition, path)
    for name, sub in node.get("properties", {}).items():
        walk_schema(sub, visit, definition, path + (name,))
    for sub in node.get("patternProperties", {}).values():
        walk_schema(sub, visit, definition, path + ("*",))
    for name, sub in node.get("definitions", {}).items():
        walk_schema(sub, visit, name, ())
    for key in SUBSCHEMA_KEYS:
        value = node.get(key)
        for sub in value if isinstance(value, list) else [value]:
            walk_schema(sub, visit, definition, path)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            walk_schema(sub, visit, definition, path)


def schema_properties(schema):
    """Every property the schema defines: (definition, path, subschema)."""
    out = []

    def visit(node, definition, path):
        for name, sub in node.get("properties", {}).items():
            out.append((definition, path + (name,), sub))

    walk_schema(schema, visit)
    return out


def doc_words(text):
    """The field names a Markdown text mentions: every dotted word of its
    `code spans` and of the first cell of its table rows, split at the dots
    (`postgres.dsn` -> ["postgres", "dsn"]). Fenced blocks are not read."""
    text = re.sub(r"(?ms)^(`{3,}|~{3,}).*?^\1\s*$", "", text)
    spans = re.findall(r"`([^`\n]+)`", text)
    spans += [row.split("|")[1] for row in text.splitlines()
              if row.startswith("|") and row.count("|") > 2]
    return [w.split(".") for s in spans
            for w in re.findall(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", s)]


def mentions(words, path):
    """A property is mentioned by its name, or, when it is nested, by its
    parent and its name in one dotted word (`database.schema`)."""
    tail = [p for p in path if p != "*"][-2:]
    if len(tail) == 1:
        return any(tail[0] in w for w in words)
    return any(w[i:i + 2] == tail for w in words for i in range(len(w) - 1))


def kind_of(definition):
    """The kind whose section of docs/manifest.md documents a definition's
    properties: "PlatformSpec" -> "Platform"; None for shared ones."""
    if definition and definition.endswith("Spec") and definition[:-4] in KINDS:
        return definition[:-4]
    return None


@pytest.fixture(scope="module")
def manifest_doc():
    if not MANIFEST_DOC.is_file():
        pytest.fail(f"missing {MANIFEST_DOC}", pytrace=False)
    text = MANIFEST_DOC.read_text(encoding="utf-8")
    return text, read_markdown(MANIFEST_DOC)[1]


def test_manifest_doc_names_every_schema_property(manifest_schema, manifest_doc):
    text, sections = manifest_doc
    everywhere = doc_words(text)
    missing = []
    for definition, path, _ in schema_properties(manifest_schema):
        kind = kind_of(definition)
        words = doc_words(section_text(sections, kind)) if kind else everywhere
        if not mentions(words, path):
            where = f"section '## {kind}'" if kind else "docs/manifest.md"
            missing.append(f"{definition or '(root)'}: {'.'.join(path)} "
                           f"(not in {where})")
    assert not missing, ("schema properties that docs/manifest.md does not "
                         "document:\n  " + "\n  ".join(missing))


def _resolve(schema, node, names):
    """The subschema reached from node by the property names, following
    $ref into definitions; None when a name is not a property."""
    for name in names:
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        props = node.get("properties", {})
        if name not in props:
            return None
        node = props[name]
    return node


def field_tables(text):
    """The first cells of the data rows of every table whose header's first
    cell is "field" (the field tables of docs/manifest.md)."""
    cells, header, in_table = [], None, False
    for row in text.splitlines():
        if not row.startswith("|"):
            in_table = False
            continue
        first = row.split("|")[1].strip()
        if not in_table:
            in_table, header = True, first
        elif header == "field" and not set(first) <= set("-: "):
            cells.append(first)
    return cells


def test_manifest_doc_field_tables_exist_in_schema(manifest_schema, manifest_doc):
    _, sections = manifest_doc
    scopes = {"Files and documents": manifest_schema,
              "Common fields": manifest_schema["definitions"]["metadata"]}
    for kind in KINDS:
        scopes[kind] = manifest_schema["definitions"][f"{kind}Spec"]
    unknown, seen = [], 0
    for title, node in scopes.items():
        for cell in field_tables(section_text(sections, title)):
            for span in re.findall(r"`([^`]+)`", cell):
                seen += 1
                if _resolve(manifest_schema, node, span.split(".")) is None:
                    unknown.append(f"section '## {title}': `{span}`")
    assert seen > 50, f"only {seen} fields found in the field tables of docs/manifest.md"
    assert not unknown, ("docs/manifest.md documents fields the schema does "
                         "not have:\n  " + "\n  ".join(unknown))


def test_schema_descriptions(manifest_schema):
    problems = []

    def visit(node, definition, path):
        where = f"{definition or '(root)'}:{'.'.join(path) or '-'}"
        if "description" in node:
            d = node["description"]
            if not isinstance(d, str) or not d.strip():
                problems.append(f"{where}: empty description {d!r}")
        for name, sub in node.get("properties", {}).items():
            if not isinstance(sub, dict) or "description" not in sub:
                problems.append(f"{where}: property '{name}' has no description")

    walk_schema(manifest_schema, visit)
    assert not problems, ("schema/manifest.schema.json: descriptions missing "
                          "or empty:\n  " + "\n  ".join(problems))


# --- 3: examples -------------------------------------------------------------

@dataclass
class Example:
    path: Path
    line: int
    section: str
    text: str
    argv: list
    exit: int

    @property
    def id(self):
        return f"{self.path.name}:{self.line}"

    @property
    def synopsis(self):
        return re.search(r"[\[\]|]", self.text) is not None

    @property
    def needs_repo(self):
        return "REPO" in self.argv


def parse_block(block):
    """(examples, problems) of a ```sh block."""
    examples, problems = [], []
    expected, dangling = 0, None
    i = 0
    while i < len(block.lines):
        raw, line = block.lines[i], block.line + i
        m = re.fullmatch(r"#\s*exit:\s*(\S*)\s*", raw.strip())
        if m:
            if not m.group(1).isdigit():
                problems.append(f"{block.path.name}:{line}: bad '{raw.strip()}'")
            else:
                expected, dangling = int(m.group(1)), line
        elif re.match(r"pressctl(\s|$)", raw):
            text = raw
            while text.endswith("\\") and i + 1 < len(block.lines):
                i += 1
                text = text[:-1] + " " + block.lines[i].strip()
            try:
                argv = shlex.split(text)
            except ValueError as e:
                problems.append(f"{block.path.name}:{line}: {e}: {text}")
                argv = []
            examples.append(Example(block.path, line, block.section, text,
                                    argv, expected))
            dangling = None
        i += 1
    if dangling is not None:
        problems.append(f"{block.path.name}:{dangling}: '# exit:' after the "
                        f"last command of its block applies to nothing")
    return examples, problems


def doc_files():
    return man_pages() + ([README] if README.is_file() else [])


def collect_examples():
    examples, problems = [], []
    for path in doc_files():
        for block in read_markdown(path)[0]:
            if block.lang == "sh":
                ex, pr = parse_block(block)
                examples += ex
                problems += pr
    return examples, problems


EXAMPLES_FOUND, EXAMPLE_PROBLEMS = collect_examples()
RUNNABLE = [e for e in EXAMPLES_FOUND if not e.synopsis]


def setup_block():
    blocks = [b for p in man_pages() for b in read_markdown(p)[0]
              if b.lang == "sh" and b.lines and b.lines[0].startswith("# setup:")]
    if len(blocks) != 1:
        pytest.fail(f"want exactly one ```sh block starting with '# setup:' in "
                    f"docs/man, found {len(blocks)}", pytrace=False)
    return blocks[0]


def _git_env(home, extra=None):
    env = helpers.clean_env({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(home),
        "GIT_AUTHOR_NAME": "pressctl docs", "GIT_AUTHOR_EMAIL": "docs@example.com",
        "GIT_COMMITTER_NAME": "pressctl docs",
        "GIT_COMMITTER_EMAIL": "docs@example.com",
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "init.defaultBranch",
        "GIT_CONFIG_VALUE_0": "main"})
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory):
    """The repository of the documented setup block: {REPO, BASE, HEAD}.
    The block runs in a sandbox holding a copy of examples/frappe, so that
    whatever it does stays under tmp_path."""
    block = setup_block()
    home = tmp_path_factory.mktemp("docs-setup")
    sandbox, tmpdir = home / "root", home / "tmp"
    shutil.copytree(EXAMPLES / "frappe", sandbox / "examples" / "frappe")
    tmpdir.mkdir()
    script = "set -eu\n" + "\n".join(block.lines) + '\nprintf "%s\\n" "$REPO"\n'
    proc = subprocess.run(["bash", "-c", script], cwd=str(sandbox),
                          env=_git_env(home, {"TMPDIR": str(tmpdir)}),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (f"the setup block of {block.path.name}:"
                                  f"{block.line} failed" + describe(proc))
    repo = Path(proc.stdout.strip().splitlines()[-1])
    assert repo.is_dir() and tmpdir in repo.resolve().parents, \
        f"the setup block made REPO={repo}, not a new directory under TMPDIR"
    assert helpers.git(repo, "rev-list", "--count", "HEAD") == "2", \
        "the setup block must make exactly two commits"
    return {"REPO": str(repo), "BASE": helpers.git(repo, "rev-parse", "HEAD~1"),
            "HEAD": helpers.git(repo, "rev-parse", "HEAD")}


def test_examples_are_well_formed():
    assert not EXAMPLE_PROBLEMS, "\n".join(EXAMPLE_PROBLEMS)
    pages = command_pages()
    for cmd in ("validate", "diff"):
        assert any(e.argv[1:2] == [cmd] for e in RUNNABLE
                   if e.path == pages.get(cmd)), \
            f"docs/man/pressctl-{cmd}.md has no runnable `pressctl {cmd}` example"
    assert any(e.needs_repo for e in RUNNABLE), "no example uses REPO"
    assert any(e.exit != 0 for e in RUNNABLE), "no example of a failure"


def test_man_examples_sections_hold_only_runnable_commands():
    """In docs/man, a ```sh block of EXAMPLES is the setup block or holds
    only comments and pressctl commands, and no synopsis: each line a
    reader may copy is one the tests run."""
    problems = []
    for path in man_pages():
        blocks, sections = read_markdown(path)
        for block in blocks:
            if block.section != "EXAMPLES":
                continue
            if block.lang != "sh":
                problems.append(f"{path.name}:{block.line}: a ```{block.lang} "
                                "block in EXAMPLES (use ```sh, and commands that run)")
                continue
            if block.lines and block.lines[0].startswith("# setup:"):
                continue
            for i, raw in enumerate(block.lines):
                s = raw.strip()
                if s and not s.startswith("#") and not raw.startswith("pressctl") \
                        and not (i and block.lines[i - 1].endswith("\\")):
                    problems.append(f"{path.name}:{block.line + i}: not a "
                                    f"pressctl command: {raw}")
        for e in EXAMPLES_FOUND:
            if e.path == path and e.synopsis:
                problems.append(f"{path.name}:{e.line}: a synopsis in a ```sh "
                                f"block (use ```text): {e.text}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("example", RUNNABLE or [None],
                         ids=lambda e: e.id if e else "none")
def test_example_runs(pressctl, example, request):
    if example is None:
        pytest.fail("no runnable example in docs/man/*.md or README.md", pytrace=False)
    argv = list(example.argv)
    assert argv and argv[0] == "pressctl"
    if example.needs_repo:
        values = request.getfixturevalue("scratch_repo")
        argv = [values.get(a, a) if a in PLACEHOLDERS else a for a in argv]
    proc = run(pressctl, *argv[1:])
    where = f"{example.id}: `{example.text}`"
    for mark in SANITIZER_MARKS:
        assert mark not in proc.stderr, f"{where}: sanitizer report" + describe(proc)
    assert proc.returncode == example.exit, (
        f"{where} exited {proc.returncode}, the doc says {example.exit}"
        + describe(proc))
    if example.exit == 1:
        assert (proc.stderr + proc.stdout).strip(), \
            f"{where}: failed without a word" + describe(proc)
    if "--format" in argv and argv[argv.index("--format") + 1] == "json" \
            and example.exit in (0, 2):
        json.loads(proc.stdout)


def hook_block():
    path = command_pages().get("validate")
    if path is None:
        pytest.fail("missing docs/man/pressctl-validate.md", pytrace=False)
    blocks = [b for b in read_markdown(path)[0]
              if b.lang == "sh" and b.lines and b.lines[0].startswith("#!")
              and any("pre-receive" in line for line in b.lines)]
    if len(blocks) != 1:
        pytest.fail(f"want one pre-receive hook (```sh block starting with #!) "
                    f"in {path.name}, found {len(blocks)}", pytrace=False)
    return blocks[0]


def test_documented_pre_receive_hook(pressctl, tmp_path):
    block = hook_block()
    server, work = tmp_path / "server.git", tmp_path / "work"
    env = _git_env(tmp_path)

    def git(cwd, *args, check=True):
        proc = subprocess.run(["git", *args], cwd=str(cwd), env=env,
                              capture_output=True, text=True, timeout=60)
        if check:
            assert proc.returncode == 0, describe(proc)
        return proc

    git(tmp_path, "init", "-q", "--bare", str(server))
    hook = server / "hooks" / "pre-receive"
    hook.write_text("\n".join(block.lines).replace(
        "pressctl validate", shlex.quote(pressctl) + " validate") + "\n")
    hook.chmod(0o755)
    git(tmp_path, "init", "-q", str(work))
    shutil.copytree(EXAMPLES / "frappe", work, dirs_exist_ok=True)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "valid")
    git(work, "push", "-q", str(server), "main")
    env_file = work / "environments.yaml"
    env_file.write_text(env_file.read_text().replace("stage: staging", "stage: stagng"))
    git(work, "commit", "-q", "-a", "-m", "invalid")
    proc = git(work, "push", "-q", str(server), "main", check=False)
    assert proc.returncode != 0, "the hook let an invalid push through" + describe(proc)
    assert "environments.yaml:" in proc.stderr and "stagng" in proc.stderr, \
        "the refused push does not show the diagnostic" + describe(proc)
    assert git(server, "rev-parse", "main").stdout.strip() == \
        git(work, "rev-parse", "HEAD~1").stdout.strip()


# --- 4: commands and their pages ---------------------------------------------

def help_commands(pressctl):
    """{command: summary} of the table `pressctl --help` prints."""
    proc = run(pressctl, "--help")
    assert proc.returncode == 0, describe(proc)
    out, listing = {}, False
    for line in proc.stdout.splitlines():
        if line.strip() == "commands:":
            listing = True
        elif listing:
            m = re.match(r"^\s+([a-z][a-z0-9-]*)\s{2,}(\S.*)$", line)
            if not m:
                break
            out[m.group(1)] = m.group(2).strip()
    assert out, "no command table in `pressctl --help`" + describe(proc)
    return out


def test_help_and_man_pages_list_the_same_commands(pressctl):
    listed, pages = set(help_commands(pressctl)), set(command_pages())
    assert (MAN / "pressctl.md").is_file(), "missing docs/man/pressctl.md"
    assert not listed - pages, (f"commands without a man page "
                                f"(docs/man/pressctl-<command>.md): {sorted(listed - pages)}")
    assert not pages - listed, (f"man pages of commands `pressctl --help` does "
                                f"not list: {sorted(pages - listed)}")
    overview = (MAN / "pressctl.md").read_text(encoding="utf-8")
    for cmd in listed:
        assert f"pressctl-{cmd}.md" in overview, \
            f"docs/man/pressctl.md does not link pressctl-{cmd}.md"


@pytest.mark.parametrize("page", man_pages() or [None],
                         ids=lambda p: p.name if p else "none")
def test_man_page_sections(page):
    if page is None:
        pytest.fail(f"no man page in {MAN}", pytrace=False)
    lines = page.read_text(encoding="utf-8").splitlines()
    name = page.name[:-len(".md")]
    assert lines and lines[0] == f"# {name}(1)", f"{page.name}: first line must be '# {name}(1)'"
    titles = [t for t, _ in read_markdown(page)[1] if t]
    order = [t for t in titles if t in MAN_SECTIONS]
    assert order == list(MAN_SECTIONS), (f"{page.name}: sections {titles}; "
                                         f"want {list(MAN_SECTIONS)} in this order")


def test_man_pages_match_command_help(pressctl):
    summaries = help_commands(pressctl)
    for cmd, page in sorted(command_pages().items()):
        if cmd not in summaries:
            continue            # reported by the test above
        _, sections = read_markdown(page)
        name = " ".join(section_text(sections, "NAME").split())
        assert name == f"pressctl-{cmd} - {summaries[cmd]}", \
            f"{page.name}: NAME is {name!r}, `pressctl --help` says {summaries[cmd]!r}"
        proc = run(pressctl, cmd, "--help")
        assert proc.returncode == 0, describe(proc)
        in_help = set(re.findall(r"--[a-z][a-z-]*", proc.stdout)) - {"--help"}
        options = section_text(sections, "OPTIONS")
        documented = set(re.findall(r"^`(--[a-z][a-z-]*)", options, re.M))
        documented |= set(re.findall(r"^`-h`, `(--help)`", options, re.M))
        assert in_help - documented == set(), \
            f"{page.name}: OPTIONS does not describe {sorted(in_help - documented)}"
        assert documented - in_help == {"--help"}, \
            (f"{page.name}: OPTIONS describes {sorted(documented - in_help - {'--help'})}, "
             f"which `pressctl {cmd} --help` does not show (and must describe -h, --help)")
