"""Every fenced code block of README.md and docs/*.md, classified, and the checks a block gets.

A block is classified by the HTML comment on the line just before its fence:

- no comment, ``sh`` or ``python``: **run** here, in a sandbox that looks like a checkout (config/,
  samples/, examples/, .venv), with the files a reader would have (``access.log``,
  ``access.log.1``, ``access.log.gz``, ``logscrub.yaml``) and a master key in the environment;
  the blocks of one doc run in order, so one can use what an earlier one wrote (``out/``);
- ``<!-- run: OLD => NEW; ... -->``: run, with those substitutions (a path on the reader's machine
  mapped into the sandbox, the test broker's address for ``localhost:9094``);
- ``<!-- run on the test broker[, until stopped][: OLD => NEW; ...] -->``: run against the suite's
  broker (tests/integration/test_doc_examples_kafka.py), after a worker has processed the bundled
  sample there; ``until stopped``: a consumer that never ends is stopped once it has printed;
- ``<!-- output of the block above -->``: what the run block above prints, compared line by line;
- ``<!-- not run: REASON -->``: cannot run here (Docker, a real cluster, processes that run until
  stopped, minutes-long targets): checked statically;
- ``<!-- not checked: REASON -->``: not a command (a diagram, a log line, a proposed interface).

Static checks, on every block that has commands (run blocks too, before they run): each
``logscrub`` command parses with the CLI's own parser; ``make`` targets exist in the Makefile;
``docker compose`` names services and volumes docker-compose.yml has, and what it runs in a
logscrub service parses; ``LOGSCRUB_*`` assignments are settings the config knows; repository
files a command reads exist; an Apache ``CustomLog "|..."`` runs a command that parses; a YAML
config fragment loads. In prose, inline ``logscrub ...`` spans name commands and options that exist,
and every `name` called a volume is one docker-compose.yml declares.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import gzip
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from logscrub.cli.main import _parser
from logscrub.config import OTHER_VARIABLES, ConfigError, env_variables, load
from logscrub.crypto import master

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
_MARKER = re.compile(r"^<!-- (run on the test broker|run|not run|not checked|output of the block above)"
                     r"(, until stopped)?(?:: (.*?))? -->$")
RUN, KAFKA, OUTPUT, STATIC, SKIP = "run", "kafka", "output", "static", "skip"
REPO_DIRS = ("config/", "samples/", "examples/", "scripts/", "bench/", "docs/", "tests/", "src/", "native/")


@dataclass
class Block:
    doc: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    kind: str = ""
    reason: str = ""
    until_stopped: bool = False
    subs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    def runnable_text(self, context: dict[str, str] | None = None) -> str:
        text = self.text
        for old, new in self.subs:
            for name, value in (context or {}).items():
                new = new.replace("{" + name + "}", value)
            assert old in text, f"{self.where}: the substitution {old!r} matches nothing in the block"
            text = text.replace(old, new)
        return text


def blocks(doc: str, text: str | None = None) -> list[Block]:
    """The fenced blocks of ``doc`` (a path relative to the repository), classified."""
    lines = (text if text is not None else (ROOT / doc).read_text()).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m[1], m[2], i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        block = Block(doc, start + 1, lang, "\n".join(body) + "\n")
        marker = lines[start - 1].strip() if start else ""
        classify(block, marker)
        out.append(block)
    return out


def classify(block: Block, marker: str) -> None:
    m = _MARKER.match(marker)
    if marker.startswith("<!--") and not m:
        block.kind, block.reason = "unknown", f"a comment before the block that is no marker: {marker}"
        return
    if not m:
        if block.lang in ("sh", "python"):
            block.kind = RUN
        else:
            block.kind, block.reason = "unknown", (f"a `{block.lang or 'plain'}` block without a marker: say "
                                                   "`<!-- not run: why -->` or `<!-- not checked: why -->`")
        return
    what, until, rest = m[1], bool(m[2]), m[3] or ""
    if what in ("run", "run on the test broker"):
        block.kind = KAFKA if what.endswith("broker") else RUN
        block.until_stopped = until
        for sub in filter(None, (s.strip() for s in rest.split(";"))):
            old, sep, new = sub.partition(" => ")
            assert sep, f"{block.where}: a substitution is `OLD => NEW`, not {sub!r}"
            block.subs.append((old, new))
        if block.lang not in ("sh", "python"):
            block.kind, block.reason = "unknown", f"only sh and python blocks run, not `{block.lang}`"
    elif what == "output of the block above":
        block.kind = OUTPUT
    else:
        block.kind, block.reason = (STATIC if what == "not run" else SKIP), rest
        if not rest:
            block.kind, block.reason = "unknown", f"`{what}` needs a reason"


def all_blocks() -> list[Block]:
    return [b for doc in DOCS for b in blocks(doc)]


# --- static checks ---------------------------------------------------------------------------------


def _quiet_parse(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parser.parse_args(argv)
    except SystemExit as e:
        if e.code:
            return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"
    return None


def check_logscrub(argv: list[str]) -> list[str]:
    """A whole ``logscrub`` command line: it must parse as the CLI parses it."""
    problem = _quiet_parse(_parser(), argv)
    return [f"`logscrub {' '.join(argv)}`: {problem}"] if problem else []


def check_logscrub_flags(argv: list[str]) -> list[str]:
    """A ``logscrub`` command mentioned in prose, placeholders allowed (``--ip ADDR``, ``LOG...``):
    its subcommands and options must exist, and an option's value must be one of its choices."""
    parser, path = _parser(), ["logscrub"]
    args = [a for a in argv if a not in ("[", "]")]
    while args and not args[0].startswith("-"):
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None:
            break
        if args[0] not in sub.choices:
            return [f"`{' '.join(path)}` has no command {args[0]!r} (has: {', '.join(sub.choices)})"]
        path.append(args[0])
        parser = sub.choices[args.pop(0)]
    problems = []
    i = 0
    while i < len(args):
        token = args[i].strip("[]")
        i += 1
        if not token.startswith("-") or token == "-" or token[1:2].isdigit():
            continue
        name, _, value = token.partition("=")
        action = parser._option_string_actions.get(name)
        if action is None:
            problems.append(f"`{' '.join(path)}` has no option {name}")
            continue
        if action.nargs != 0 and not value and i < len(args):
            value = args[i].strip("[]")
            i += 1
        if action.choices and value and not value.isupper() and value not in action.choices:
            problems.append(f"`{' '.join(path)} {name}` takes {', '.join(map(str, action.choices))}, not {value!r}")
    return problems


def _make_targets() -> tuple[set[str], list[str]]:
    text = (ROOT / "Makefile").read_text()
    names = set(re.findall(r"^([\w.%-]+)\s*:(?!=)", text, re.M))
    return {n for n in names if "%" not in n}, [n for n in names if "%" in n]


def check_make(argv: list[str]) -> list[str]:
    exact, patterns = _make_targets()
    problems = []
    for target in (a for a in argv if not a.startswith("-") and "=" not in a):
        ok = target in exact or any(re.fullmatch(p.replace("%", ".+"), target) for p in patterns)
        if not ok:
            problems.append(f"`make {target}`: the Makefile has no target {target!r}")
    return problems


def _logscrub_services() -> set[str]:
    return {name for name, s in COMPOSE["services"].items() if s.get("build") == "." or
            str(s.get("image", "")).startswith("logscrub")}


def check_volume(name: str) -> list[str]:
    volumes = set(COMPOSE.get("volumes") or {})
    return [] if name in volumes else [f"docker-compose.yml has no volume {name!r} (has: {', '.join(sorted(volumes))})"]


def _check_mount(spec: str) -> list[str]:
    source = spec.split(":")[0]
    if source and not source.startswith((".", "/", "$", "~")):
        return check_volume(source)
    return []


_COMPOSE_VALUE_OPTIONS = {"-u", "--user", "-v", "--volume", "-e", "--env", "-w", "--workdir", "--name",
                          "--entrypoint", "-p", "--publish", "--scale", "-f", "--file", "--profile", "-t", "--timeout"}
_COMPOSE_COMMANDS = {"up", "down", "ps", "run", "exec", "logs", "stop", "start", "restart", "pull", "build",
                     "config", "rm", "top", "kill"}


def check_compose(argv: list[str]) -> list[str]:
    """``docker compose ...``: its services, volumes and the logscrub command it runs in one."""
    services = set(COMPOSE["services"])
    problems = []
    args = list(argv)
    while args and args[0].startswith("-"):  # global options
        args = args[2:] if args[0] in _COMPOSE_VALUE_OPTIONS else args[1:]
    if not args:
        return problems
    command, args = args[0], args[1:]
    if command not in _COMPOSE_COMMANDS:
        return [f"`docker compose {command}`: not a compose command this check knows"]
    positional = []
    while args:
        a = args.pop(0)
        if a.startswith("-"):
            name, _, value = a.partition("=")
            if name in _COMPOSE_VALUE_OPTIONS and not value:
                value = args.pop(0) if args else ""
            if name == "--scale":
                service = value.split("=")[0]
                if service not in services:
                    problems.append(f"`--scale {value}`: docker-compose.yml has no service {service!r}")
            if name in ("-v", "--volume"):
                problems += _check_mount(value)
            continue
        positional.append(a)
        if command in ("run", "exec"):
            break
    if command in ("run", "exec") and positional:
        service = positional[0]
        if service not in services:
            problems.append(f"`docker compose {command} {service}`: no such service")
        elif service in _logscrub_services() and args:
            problems += check_logscrub(args)
    elif command != "run":
        problems += [f"`docker compose {command} {s}`: no such service" for s in positional if s not in services]
    return problems


def check_assignment(name: str, value: str) -> list[str]:
    """``NAME=value`` in front of a command: a ``LOGSCRUB_*`` name must be a variable logscrub reads,
    and a real value (not ``...``) one the config takes. (In front of ``docker compose``, a name must
    be one docker-compose.yml reads: check_shell.)"""
    if not name.startswith("LOGSCRUB_") or name in (master.ENV, master.ENV_FILE):
        return []
    if name not in (*env_variables(), *OTHER_VARIABLES):
        return [f"{name}: not a variable logscrub reads"]
    if value in ("", "...") or "..." in value:
        return []
    try:
        load(None, env={name: value})
    except ConfigError as e:
        return [f"{name}={value}: {e}"]
    return []


def _commands(line: str) -> list[tuple[list[str], list[str]]]:
    """(argv, files read through `<`) of each simple command of one shell line, comments dropped."""
    lex = shlex.shlex(line, posix=True, punctuation_chars="|&;<>()")
    lex.whitespace_split = True
    lex.commenters = "#"
    out, argv, inputs = [], [], []
    tokens = list(lex)
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in ("|", "||", "&&", ";", "&", "(", ")"):
            if argv:
                out.append((argv, inputs))
            argv, inputs = [], []
        elif t in ("<", ">", ">>"):
            if t == "<" and i + 1 < len(tokens):
                inputs.append(tokens[i + 1])
            i += 1
        else:
            argv.append(t)
        i += 1
    if argv:
        out.append((argv, inputs))
    return out


def check_shell(text: str) -> list[str]:
    problems = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            commands = _commands(line)
        except ValueError as e:
            problems.append(f"cannot read {line!r} as a shell line: {e}")
            continue
        for argv, inputs in commands:
            assigned = []
            while argv and (argv[0] in ("sudo", "export", "env") or re.match(r"^[A-Za-z_]\w*=", argv[0])):
                word = argv.pop(0)
                if "=" in word:
                    name, _, value = word.partition("=")
                    assigned.append(name)
                    problems += check_assignment(name, value)
            if not argv:
                continue
            if argv[:2] == ["docker", "compose"]:
                compose = (ROOT / "docker-compose.yml").read_text()
                problems += [f"{name}: docker-compose.yml reads no such variable" for name in assigned
                             if not name.startswith("LOGSCRUB_") and "${" + name not in compose]
            problems += check_files([*inputs, *argv[1:]])
            program = argv[0]
            if program.rsplit("/", 1)[-1] == "logscrub":
                problems += check_logscrub(argv[1:])
            elif program == "make":
                problems += check_make(argv[1:])
            elif program == "docker" and argv[1:2] == ["compose"]:
                problems += check_compose(argv[2:])
    return problems


def check_files(words: list[str]) -> list[str]:
    """Repository files a command names (config/..., examples/..., samples/...) exist."""
    problems = []
    for w in words:
        if w.startswith(REPO_DIRS) and not any(c in w for c in "*?{$"):
            if not (ROOT / w).exists():
                problems.append(f"{w}: no such file in the repository")
    return problems


def check_apache(text: str) -> list[str]:
    problems = []
    for piped in re.findall(r'CustomLog\s+"\|([^"]+)"', text):
        problems += check_shell(piped)
    if "CustomLog" in text and not re.search(r'CustomLog\s+"\|', text):
        problems.append("an apache block without a piped CustomLog")
    return problems


def check_config_yaml(text: str) -> list[str]:
    """A config fragment: it must load. A password comes from the environment, as the docs say;
    files it names on the reader's host are stood in for by an empty file here."""
    data = yaml.safe_load(text)
    with tempfile.TemporaryDirectory() as tmp:
        stand_in = Path(tmp) / "stand-in"
        stand_in.write_text("")

        def local(node):
            if isinstance(node, dict):
                return {k: local(v) for k, v in node.items()}
            if isinstance(node, str) and node.startswith("/") and not Path(node).exists():
                return str(stand_in)
            return node

        path = Path(tmp) / "fragment.yaml"
        path.write_text(yaml.safe_dump(local(data)))
        try:
            load(path, env={"LOGSCRUB_KAFKA__SASL_PASSWORD": "from-the-environment"})
        except ConfigError as e:
            return [str(e)]
    return []


def static_problems(block: Block) -> list[str]:
    """What is wrong in a block that does not need running to see."""
    if block.kind == "unknown":
        return [block.reason]
    if block.kind == SKIP:
        named = re.findall(r"(tests/[\w/]+\.py)", block.reason)
        return [f"{path}: no such test" for path in named if not (ROOT / path).is_file()]
    if block.kind == OUTPUT:
        return []
    if block.lang == "sh":
        return check_shell(block.text)
    if block.lang == "apache":
        return check_apache(block.text)
    if block.lang == "yaml":
        return check_config_yaml(block.text)
    if block.lang == "python":
        try:
            ast.parse(block.text)
        except SyntaxError as e:
            return [f"not Python: {e}"]
        return []
    named = re.findall(r"(tests/[\w/]+\.py)", block.reason)
    return [f"{path}: no such test" for path in named if not (ROOT / path).is_file()]


# --- prose ---------------------------------------------------------------------------------------------


def prose(text: str) -> str:
    """A doc without its fenced blocks and HTML comments."""
    out, fence = [], None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence:
            if line.startswith(fence):
                fence = None
            continue
        if m:
            fence = m[1]
            continue
        out.append(line)
    return re.sub(r"<!--.*?-->", "", "\n".join(out), flags=re.S)


def code_spans(text: str) -> list[str]:
    """Inline code spans of a doc's prose (a span may wrap onto the next line)."""
    return [re.sub(r"\s*\n\s*", " ", m[2]).strip() for m in re.finditer(r"(`+)(.+?)\1", prose(text), re.S)]


def prose_problems(doc: str, text: str | None = None) -> list[str]:
    text = text if text is not None else (ROOT / doc).read_text()
    problems = []
    for span in code_spans(text):
        piped = re.match(r'CustomLog "\|([^"]+)"', span)
        command = piped[1] if piped else span
        try:
            words = shlex.split(command)
        except ValueError:
            continue
        if words[:1] and words[0].rsplit("/", 1)[-1] == "logscrub" and re.match(r"^(-|[a-z])", words[1:2][0] if words[1:] else ""):
            problems += [f"{doc}: `{span}`: {p}" for p in check_logscrub_flags(words[1:])]
        elif words[:2] == ["docker", "compose"]:
            problems += [f"{doc}: `{span}`: {p}" for p in check_compose(words[2:])]
        elif words[:1] == ["make"] and len(words) > 1:
            problems += [f"{doc}: `{span}`: {p}" for p in check_make(words[1:])]
    flat = re.sub(r"\s+", " ", prose(text))
    for name in re.findall(r"`([\w.-]+)` (?:named )?volume\b", flat) + re.findall(r"\bvolume `([\w.-]+)`", flat):
        problems += [f"{doc}: {p}" for p in check_volume(name)]
    return problems


# --- placeholders --------------------------------------------------------------------------------------

_PLACEHOLDER_LINE = re.compile(r"^\s*([A-Z]{1,12}|TODO.*|TBD.*|FIXME.*|XXX.*|\.\.\.)\s*$")
_PLACEHOLDER_WORD = re.compile(r"\b(TODO|TBD|FIXME|XXX|lorem ipsum)\b", re.I)


def placeholders(doc: str, text: str | None = None) -> list[str]:
    """Lines that stand for content nothing filled in: a lone capitalized word (``FIGURES``,
    ``MEMORY``, ``X``), TODO/TBD/FIXME/XXX, or an empty generated section."""
    text = text if text is not None else (ROOT / doc).read_text()
    found = []
    body = prose(text)
    for n, line in enumerate(body.splitlines(), 1):
        if _PLACEHOLDER_LINE.match(line) or _PLACEHOLDER_WORD.search(line):
            found.append(f"{doc}: a placeholder: {line.strip()!r}")
    for name in re.findall(r"<!-- bench:(\w+) -->\n<!-- /bench:\1 -->", text):
        found.append(f"{doc}: the generated section bench:{name} is empty")
    return found


# --- running ---------------------------------------------------------------------------------------------

GOACCESS = '''#!{python}
"""Stands in for GoAccess in the docs' examples (GoAccess is not installed here): reads the log on
stdin as --log-format=COMBINED would, and fails on the first line that is not a combined line."""
import re, sys
q = r'"(?:[^"\\\\]|\\\\.)*"'
combined = re.compile(r"^\\S+ \\S+ \\S+ \\[[^\\]]+\\] " + q + r" \\d{{3}} (?:\\d+|-) " + q + " " + q + "$")
assert sys.argv[1:] == ["-", "--log-format=COMBINED"], sys.argv
n = 0
for n, line in enumerate(sys.stdin, 1):
    if not combined.match(line.rstrip("\\n")):
        sys.exit(f"goaccess stand-in: line {{n}} is not COMBINED: {{line[:200]!r}}")
sys.exit(0 if n else "goaccess stand-in: no lines")
'''


@dataclass
class Sandbox:
    """A directory that looks like a checkout to the examples (config/, samples/, examples/ and .venv
    link to the real ones), with the files a reader has (a log, a rotated log, a gzipped log, a
    config file), a HOME and state directory of its own, and a master key in the environment."""

    path: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    master_key: str | None = None  # base64; a new one by default

    def __post_init__(self) -> None:
        p = self.path
        p.mkdir(parents=True, exist_ok=True)
        for name in ("config", "samples", "examples"):
            (p / name).symlink_to(ROOT / name)
        (p / ".venv").symlink_to(Path(sys.prefix))
        sample = ROOT / "samples" / "access.log"
        shutil.copy(sample, p / "access.log")
        shutil.copy(sample, p / "access.log.1")
        with gzip.open(p / "access.log.gz", "wb") as f:
            f.write(sample.read_bytes())
        shutil.copy(ROOT / "config" / "logscrub.yaml", p / "logscrub.yaml")
        stubs = p / ".stubs"
        stubs.mkdir()
        (stubs / "goaccess").write_text(GOACCESS.format(python=sys.executable))
        (stubs / "goaccess").chmod(0o755)
        secrets = p / ".secrets"
        secrets.mkdir(mode=0o700)
        key = secrets / "master.key"
        key.write_text((self.master_key or master.new_master_key()) + "\n")
        key.chmod(0o600)
        home = p / ".home"
        home.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LOGSCRUB_")},
            "PATH": os.pathsep.join([str(stubs), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "HOME": str(home),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            master.ENV_FILE: str(key),
            **self.extra_env,
        }

    def run(self, block: Block, context: dict[str, str] | None = None, timeout: float = 300) -> Ran:
        text = block.runnable_text(context)
        argv = ([sys.executable, "-c", text] if block.lang == "python"
                else ["bash", "-e", "-o", "pipefail", "-c", text])
        if block.until_stopped:
            return _until_stopped(argv, self.path, self.env, timeout)
        done = subprocess.run(argv, cwd=self.path, env=self.env, capture_output=True, text=True, timeout=timeout)
        return Ran(done.returncode, done.stdout, done.stderr)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str

    def explain(self, block: Block) -> str:
        return (f"{block.where}: the example exited {self.returncode}\n--- block\n{block.text}--- stdout (end)\n"
                f"{self.stdout[-3000:]}\n--- stderr (end)\n{self.stderr[-3000:]}")


def _until_stopped(argv: list[str], cwd: Path, env: dict[str, str], timeout: float, quiet_s: float = 3.0) -> Ran:
    """A consumer that never ends: stopped once it has printed and then said nothing for ``quiet_s``
    (or at ``timeout``); counts as a success when it printed and was still running."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    last = [time.monotonic()]

    def read() -> None:
        assert proc.stdout
        for line in proc.stdout:
            lines.append(line)
            last[0] = time.monotonic()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if lines and time.monotonic() - last[0] > quiet_s:
            break
        time.sleep(0.2)
    running = proc.poll() is None
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    reader.join(timeout=5)
    code = 0 if running and lines else (proc.returncode or 1)
    return Ran(code, "".join(lines), err + ("" if lines else "\n(printed nothing)"))


def run_blocks(doc_blocks: list[Block], kinds: set[str], sandbox: Sandbox,
               context: dict[str, str] | None = None) -> int:
    """Run the blocks of ``kinds`` in order, each output block compared with what the run block just
    before it printed; returns how many ran."""
    ran, previous = 0, None
    for block in doc_blocks:
        if block.kind in kinds:
            result = sandbox.run(block, context)
            assert result.returncode == 0, result.explain(block)
            previous, ran = (block, result), ran + 1
        elif block.kind == OUTPUT:
            if previous is not None:
                shown = [line.rstrip() for line in block.text.rstrip("\n").splitlines()]
                printed = [line.rstrip() for line in previous[1].stdout.rstrip("\n").splitlines()]
                assert printed == shown, (
                    f"{block.where}: the doc shows output that {previous[0].where} does not print:\n"
                    + "\n".join(difflib.unified_diff(shown, printed, "the doc", "printed", lineterm="")))
            previous = None
        else:
            previous = None
    return ran


# --- references ------------------------------------------------------------------------------------------

_PATH = re.compile(r"(?<![\w/.-])((?:tests|bench|scripts|fuzz|config|examples|samples|docs|\.ci)/[\w./-]*[\w/])"
                   r"(?![\w*])(?:::(\w+))?")
_BARE_TEST = re.compile(r"(?<![\w/])(test_\w+\.py)::(\w+)")
_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)#\s]+)(?:#[^)]*)?\)")
_GENERATED = ("bench/data/",)  # made by the bench targets, not in the repository


def _has_test(path: Path, name: str | None) -> bool:
    return name is None or re.search(rf"^\s*(?:async )?def {name}\(", path.read_text(), re.M) is not None


def reference_problems(doc: str, text: str | None = None) -> list[str]:
    """Files, tests and links a doc names exist: `tests/x/test_y.py::test_z`, `test_y.py::test_z`
    (found under tests/), bench/... and config/... paths, relative links."""
    text = text if text is not None else (ROOT / doc).read_text()
    body = prose(text)
    problems = []
    for path, test in set(_PATH.findall(body)):
        if path.startswith(_GENERATED):
            continue
        full = ROOT / path
        if not full.exists():
            problems.append(f"{doc}: names {path}, which does not exist")
        elif test and not _has_test(full, test):
            problems.append(f"{doc}: names {path}::{test}, which {path} does not define")
    for name, test in set(_BARE_TEST.findall(body)):
        found = [p for p in (ROOT / "tests").rglob(name) if _has_test(p, test)]
        if not found:
            problems.append(f"{doc}: names {name}::{test}, which no test file defines")
    for target in set(_LINK.findall(body)):
        if not ((ROOT / doc).parent / target).exists():
            problems.append(f"{doc}: links to {target}, which does not exist")
    return problems
