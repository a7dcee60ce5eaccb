"""Every privacy canary class of tests/canaries.py against the compiled core.

Two ways: tests/privacy/test_url_classes.py runs again whole with the compiled path generalizer and
classifier in place of the reference's (every class, every rule form, the false-positive corpus and
the detection-rate floors); and every canary line goes through the compiled pieces a line's
published fields come from (parser, client address, its generalized form, path and query), which
must publish what the reference publishes and none of the canaries."""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

import canaries
from corpora import needs_native, reference_tests
from logscrub import native
from logscrub.config import URLConfig
from logscrub.parsing.formats import make_parser
from logscrub.parsing.record import ParseError
from logscrub.privacy import ip
from logscrub.privacy.referrer import registrable_domain
from logscrub.privacy.url import PathGeneralizer, classify_segment

pytestmark = needs_native


def native_classify(text: str) -> str | None:
    decided, placeholder = native.module().classify_segment(text, registrable_domain)
    return placeholder if decided else classify_segment(text)


def _native_classes_module():
    """A private copy of test_url_classes whose PathGeneralizer and classify_segment are the compiled ones."""
    module = reference_tests("privacy/test_url_classes.py")
    module.PathGeneralizer = native.path_generalizer
    module.classify_segment = native_classify
    return module


def _cases() -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    if not native.available():
        return []
    module = _native_classes_module()
    cases = []
    for name, func in sorted(vars(module).items()):
        if not (name.startswith("test_") and callable(func)):
            continue
        params = [{}]
        for mark in getattr(func, "pytestmark", []):
            if mark.name == "parametrize":
                names = [n.strip() for n in mark.args[0].split(",")] if isinstance(mark.args[0], str) else list(mark.args[0])
                values = [v if len(names) > 1 else (v,) for v in mark.args[1]]
                params = [{**p, **dict(zip(names, v))} for p in params for v in values]
        for i, p in enumerate(params):
            cases.append((f"{name}[{i}]", func, p))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "func", "params"), CASES, ids=[c[0] for c in CASES])
def test_url_class_tests_pass_on_the_compiled_core(name, func, params):
    kwargs = dict(params)
    if "generalize" in inspect.signature(func).parameters:
        kwargs["generalize"] = native.path_generalizer(URLConfig().path_rules, query_allow=["q"])
    func(**kwargs)


def test_every_class_test_was_collected():
    names = {name.split("[")[0] for name, _, _ in CASES}
    for cls in ("names_under_rules", "long_random_tokens", "short_mixed_tokens", "lowercase_base32", "prefixed_secrets",
                "encoded_session_ids", "emails", "phones", "birth_dates", "macs", "coordinates", "coordinates_split",
                "embedded_ipv4",
                "false_positives", "detection_rate"):
        assert any(cls in n for n in names), cls


# ---- line by line: what each core publishes from a canary line -------------------------------------

TRUSTED = [ipaddress.ip_network("198.51.100.0/24")]
KEY = b"visitor key of the day, 32 bytes"


def published(core: str, line: str, mode: str) -> tuple[Any, ...] | str:
    parse, generalize_path = CORES[core]
    try:
        r = parse(line)
    except ParseError as e:
        return e.reason
    if core == "python":
        client = ip.client_ip(r.client, r.forwarded_for, TRUSTED)
        address = ip.IPGeneralizer(mode)(client, KEY)
    else:
        client = native.client_ip(r.client, r.forwarded_for, native.trusted_networks(TRUSTED))
        address = native.generalize_ip(client, mode, 24, 48, KEY)
    path, query = generalize_path(r.target)
    return address, path, query, r.method, r.protocol, r.status


CORES: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def cores():
    rules, allow = URLConfig().path_rules, URLConfig().query_allow  # as the full-pipeline canary tests run
    CORES["python"] = make_parser("auto"), PathGeneralizer(rules, allow)
    CORES["native"] = native.make_parser("auto"), native.path_generalizer(rules, allow)


def _lines() -> tuple[list[str], list[str]]:
    lines, forbidden, _ = canaries.class_lines()
    return canaries.combined_lines() + canaries.json_lines() + lines, canaries.FORBIDDEN + forbidden


@pytest.mark.parametrize("mode", ["truncate", "pseudonym", "drop"])
def test_canary_lines_publish_alike_and_leak_nothing(mode):
    lines, forbidden = _lines()
    for line in lines:
        got = published("native", line, mode)
        assert got == published("python", line, mode), line
        text = repr(got).lower()
        for secret in forbidden:
            # Private referrer host names are the referrer generalizer's (Python) to hide, not in these fields.
            assert secret.lower() not in text, (secret, line, got)
