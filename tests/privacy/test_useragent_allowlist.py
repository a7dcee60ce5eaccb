"""The publishable-family allowlist: our regex-subset enumerator against the one it replaced.

``data/spelled_out_families.json`` was generated once, on Python 3.11, by the previous
``useragent.py`` (commit 92a83b1), which walked the stdlib's private ``re._parser`` tree:
for each of the 637 user-agent and OS rules of ua-parser-builtins 202610, the families the
rule can produce without copying free text. Comparing rule by rule pins the new
enumerator to the old one on every construct those rules use; the other tests check that
the installed rules are all read, that what we list is really matched (soundness, with the
public ``re``), and that what the group matches is listed (completeness, with hypothesis).
"""

from __future__ import annotations

import ast
import json
import re

from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ua_parser import load_lazy_builtins

from logscrub.privacy import useragent
from logscrub.privacy.useragent import (
    _KNOWN_CRAWLERS,
    _PUBLISHABLE_FAMILIES,
    UnsupportedRegex,
    _RegexSubset,
    _spelled_out,
    captured_by_group_one,
)

FROZEN = json.loads((Path(__file__).parent / "data" / "spelled_out_families.json").read_text(encoding="utf-8"))
INSTALLED = [(m.regex, m.family) for matchers in load_lazy_builtins()[:2] for m in matchers]


def _group_one(regex: str) -> _RegexSubset:
    parser = _RegexSubset(regex)
    parser.parse()
    return parser


def test_frozen_copy_covers_every_user_agent_and_os_rule() -> None:
    assert len(FROZEN["rules"]) == 637
    assert sum(len(rule["names"]) for rule in FROZEN["rules"]) == 1289  # as generated; guards against edits


@pytest.mark.parametrize("rule", FROZEN["rules"], ids=lambda rule: rule["regex"][:40])
def test_same_families_as_the_previous_enumerator(rule: dict[str, Any]) -> None:
    assert sorted(_spelled_out(rule["family"], rule["regex"])) == rule["names"]


def test_installed_allowlist_is_the_frozen_one_when_the_rules_are() -> None:
    frozen_rules = {(rule["regex"], rule["family"]) for rule in FROZEN["rules"]}
    if set(INSTALLED) != frozen_rules:
        pytest.skip(f"installed ua-parser-builtins {version('ua-parser-builtins')} has other rules than the frozen "
                    f"{FROZEN['ua_parser_builtins']}; the rule-by-rule test still holds the enumerator")
    frozen = _KNOWN_CRAWLERS.union(*(rule["names"] for rule in FROZEN["rules"]))
    assert frozen == _PUBLISHABLE_FAMILIES


@pytest.mark.parametrize(("regex", "family"), INSTALLED, ids=lambda value: value[:40])
def test_every_installed_rule_is_read(regex: str, family: str) -> None:
    """An unread rule would silently publish none of its names: a new ua-parser must extend the reader."""
    parser = _group_one(regex)
    if "$1" in family:
        assert parser.group_one is not None


@pytest.mark.parametrize(("regex", "family"), INSTALLED, ids=lambda value: value[:40])
def test_listed_strings_are_matched_by_the_group(regex: str, family: str) -> None:
    """Soundness: everything we list, the rule's group 1 really matches (checked by the public ``re``)."""
    parser = _group_one(regex)
    listed = captured_by_group_one(regex) or set()
    if listed:
        group = re.compile(parser.group_one_source or "")
        assert all(group.fullmatch(text) for text in listed)


FINITE_GROUPS = sorted({
    source
    for regex, _ in INSTALLED
    if captured_by_group_one(regex) and (source := _group_one(regex).group_one_source) is not None
})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_what_a_finite_group_matches_is_listed(data: st.DataObject) -> None:
    """Completeness, for groups without free-text branches (``re.ASCII``: a Unicode ``\\d`` we do not list)."""
    source = data.draw(st.sampled_from([s for s in FINITE_GROUPS if _finite_only(s)]))
    text = data.draw(st.from_regex(re.compile(source, re.ASCII), fullmatch=True))
    assert text in (captured_by_group_one(f"({source})") or set())


def _finite_only(source: str) -> bool:
    """No branch left out as free text: everything the group matches is then listed."""
    return not re.search(r"(?<!\\)[.+*]|\\[wWsSD]|\[\^|\{\d*,?\d{2,}\}|\{[4-9]", source)


def test_finite_groups_are_sampled() -> None:
    assert len([s for s in FINITE_GROUPS if _finite_only(s)]) > 100


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"(a|b)c", {"a", "b"}),
        (r"x(?:y)(z)", {"z"}),
        (r"(?:(a)|b)(c)", {"a"}),  # group 1 is the first '(' that captures, wherever it is
        (r"\((Foo)\)", {"Foo"}),  # escaped parentheses do not open groups
        (r"[(](Foo)", {"Foo"}),  # nor do parentheses in a class
        (r"(a[bc]d)", {"abd", "acd"}),
        (r"([a-c])", {"a", "b", "c"}),
        (r"([-a])", {"-", "a"}),
        (r"([a-])", {"-", "a"}),
        (r"([]a])", {"]", "a"}),
        (r"([\d])", set("0123456789")),
        (r"(\d)", set("0123456789")),
        (r"([\-\.])", {"-", "."}),
        (r"(A\.B)", {"A.B"}),
        (r"(\bA\b)", {"A"}),
        (r"(^A$)", {"A"}),
        (r"(ab?)", {"a", "ab"}),
        (r"(ab??)", {"a", "ab"}),
        (r"(a{2})", {"aa"}),
        (r"(a{1,3})", {"a", "aa", "aaa"}),
        (r"(a{,2})", {"", "a", "aa"}),
        (r"(x|)", {"x", ""}),
        (r"()", {""}),
        (r"(Known|\w+bot)", {"Known"}),  # free branches are left out
        (r"(a|[^b])", {"a"}),
        (r"(a|.)", {"a"}),
        (r"(é)", {"é"}),
        (r"(a|b)+", {"a", "b"}),  # a repeated group captures its last repetition
        (r"(\é)", {"é"}),
    ],
)
def test_enumerator_reads_the_subset(regex: str, expected: set[str]) -> None:
    assert captured_by_group_one(regex) == expected


@pytest.mark.parametrize(
    "regex",
    [
        r"(a+)", r"(a*)", r"(a{4})", r"(a{2,})", r"(.)", r"(\w)", r"(\s)", r"(\S)", r"(\D)", r"([^a])",
        r"([\w-])", r"no group", r"(?:a)",
        r"([0-9]{4})",  # 10,000 strings: over the expansion limit
    ],
)
def test_free_text_or_no_group_lists_nothing(regex: str) -> None:
    assert captured_by_group_one(regex) is None


@pytest.mark.parametrize(
    "regex",
    [
        r"(?=a)(b)", r"(?!a)(b)", r"(?<=a)(b)", r"(?P<name>a)", r"(?i)(a)", r"(a)\1", r"(\x41)", r"(\n)",
        r"(a++)", r"(a**)", r"(*a)", r"({1}a)", r"(a{})", r"(a", r"a)", r"([a", r"([z-a])", r"([\d-z])", r"(\b*)", "(a)\\",
    ],
)
def test_syntax_outside_the_subset_is_refused(regex: str) -> None:
    with pytest.raises(UnsupportedRegex):
        _RegexSubset(regex).parse()
    assert captured_by_group_one(regex) is None
    assert _spelled_out("$1", regex) == set()


def test_useragent_imports_no_private_module_and_no_user_agents() -> None:
    tree = ast.parse(Path(useragent.__file__).read_text(encoding="utf-8"))
    modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names]
    assert modules and not [m for m in modules if any(part.startswith("_") and part != "__future__"
                                                      for part in m.split("."))]
    assert not [n for n in names if n.startswith("_")]
    assert not [m for m in modules if m.split(".")[0] == "user_agents"]
