"""Path templating and the query allowlist: the compiled generalizer publishes what privacy/url.py
publishes, for every target of the corpora, every placeholder class and rule form the reference's
own tests use, and generated targets; what it leaves to the reference (non-ASCII) is counted."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import canaries
from corpora import canary_lines, fuzz_inputs, reference_tests, hostile_lines, needs_native, sample_lines, visitor_lines
from logscrub import native
from logscrub.config import URLConfig
from logscrub.parsing.formats import make_parser
from logscrub.parsing.record import ParseError
from logscrub.privacy.referrer import registrable_domain
from logscrub.privacy.url import PathGeneralizer, classify_segment

pytestmark = needs_native

RULES = list(URLConfig().path_rules) + ["/users/*/profile", "/u/*", "/~*", "/@*", "/a*b/*/c"]
ALLOW = ["q", "page", "lang", "sort", "ref", "utm_source", "id"]
CONFIGS = {
    "default": dict(rules=URLConfig().path_rules, query_allow=["q"]),
    "rules": dict(rules=RULES, query_allow=ALLOW),
    "tight": dict(rules=["/u/*"], query_allow=["q"], max_segments=3, max_length=40),
    "none": dict(rules=[], query_allow=[]),
}


def pair(config: str):
    kwargs = CONFIGS[config]
    return PathGeneralizer(**kwargs), native.path_generalizer(**kwargs)


PAIRS = {name: pair(name) for name in CONFIGS} if native.available() else {}


def assert_same(targets, configs=CONFIGS) -> None:
    for name in configs:
        ref, nat = PAIRS[name]
        for target in targets:
            assert nat(target) == ref(target), (name, target)


def targets(lines) -> list[str | None]:
    parse = make_parser("auto")
    out = []
    for line in lines:
        try:
            out.append(parse(line).target)
        except ParseError:
            pass
    return out


@pytest.mark.parametrize("corpus", [sample_lines, visitor_lines, hostile_lines, canary_lines], ids=lambda c: c.__name__)
def test_corpus_targets_generalize_alike(corpus):
    assert_same(targets(corpus()))


def test_the_generated_logs_are_decided_natively():
    """The Python fallback is for non-ASCII targets only: none in the generated logs."""
    _, nat = pair("rules")
    for target in targets(sample_lines() + visitor_lines()):
        nat(target)
    assert nat.fallbacks == 0


def test_fuzz_corpus_targets_generalize_alike():
    lines = [data[1:].decode("utf-8", "replace") for data in fuzz_inputs()]
    assert_same(targets(lines) + [line for line in lines if line.startswith("/")])


# The reference's own tables: every placeholder class, decoding, normalization, rules at any depth.
def _reference_cases() -> list[str]:
    test_url = reference_tests("privacy/test_url.py")
    classes = reference_tests("privacy/test_url_classes.py")

    cases = [t for t, _ in test_url.test_templates.pytestmark[0].args[1]]
    cases += [t for t, _ in test_url.test_rules_match_anywhere_whatever_the_case_and_encoding.pytestmark[0].args[1]]
    cases += [t for t, _ in test_url.test_decoding_and_normalization.pytestmark[0].args[1]]
    cases += test_url.CANARY_TARGETS
    rng = random.Random(5)
    for form in classes.RULE_FORMS:
        cases += [form(segment) for segment, _ in canaries.names(rng, 20)]
    values = (
        [s for s, _ in canaries.emails(rng, 60)] + [s for s, _ in canaries.phones(rng, 60)] + canaries.birth_dates(rng, 60)
        + [s for s, _ in canaries.macs(rng, 40)] + [s for s, _ in canaries.coordinates(rng, 40)]
        + canaries.tokens(rng, 40) + canaries.short_tokens(rng, 60) + canaries.base32_tokens(rng, 20)
        + canaries.secrets(rng, 60) + [v4 for _, v4 in canaries.embedded_ipv4_clients(rng, 20)]
    )
    for value in values:
        cases += classes._around(value)
    for path, _, _ in canaries.split_coordinates(rng, 60):
        cases += [f"/x/{path}", f"/{path}/", f"/api/{path}/x/1.234"]
    return cases


def test_every_placeholder_class_and_rule_form_generalizes_alike():
    cases = _reference_cases()
    assert len(cases) > 2000
    assert_same(cases)


SEGMENT = st.sampled_from([
    "users", "Users", "u", "~jdoe", "@alice", "..", ".", "%2e%2E", "%2F", "%252F", "%5C", ";", "%3B", ";jsessionid=0",
    "42", "2024", "2024-05", "1987-03-14", "14.03.87", "v1.2.3", "jdoe@example.com", "jdoe%40example.com", "(at)", "-at-",
    "example", "-dot-", "com", "48.8566,2.3522", "48.8566;2.3522", "+33%206%2012%2034%2056%2078", "(555)%20123-4567",
    "00:1a:2b:3c:4d:5e", "001a.2b3c.4d5e", "203.0.113.7", "[2001:db8::1]", "fe80::1%25eth0", "eyJhbGciOi.x",
    "5f2b7c9e1d3a4b6c8e0f1a2b3c4d5e6f", "123e4567-e89b-12d3-a456-426614174000", "Zx8kQp2mWv", "sk_live_abcdefgh12",
    "AKIAIOSFODNN7EXAMPLE", "GettingStartedWithKafka", "day-4-data-sources.html", "x" * 65, "%C3%A9", "é", "\uff55",
    "a%00b", "%0d%0a", "tab\tx", "key=value", "id=12345", "%25", "%", "%zz", "+", " ", "?", "#", "&", "=", "a" * 20,
    "415.555.0172", "1.415.555.0172", "jane(a)example.de", "jane.at.example.com", "jane+at+example.com", "example.at",
    "14.3.87", "3-14-87", "14mar87", "mar-14-87", "3.11.10", "4.17.21", "48.8566", "-2.3522", "+151.2093", "95.123",
    "181.123", "0.000", "lat",
])
target = st.one_of(
    st.lists(SEGMENT, max_size=10).map(lambda s: "/" + "/".join(s)),
    st.builds(lambda p, q: f"/{p}?{q}", st.lists(SEGMENT, max_size=4).map("/".join),
              st.lists(st.sampled_from(["q=", "page=2", "q=jdoe%40example.com", "lang=de&lang=fr", "id=4711", "q=%C3%A9",
                                        "q=a+b", "q", "&", "=x", "q=" + "%41" * 70, "utm_source=x%2540y.com", "%71=1"]),
                       max_size=5).map("&".join)),
    st.text(alphabet="/?&=;@:%.~ab12AZ-_+#\\", max_size=60).map(lambda s: "/" + s),
    st.text(max_size=60),
    st.builds(lambda s: "http://h" + s, st.text(alphabet="/?&=;@:%.~ab12", max_size=40)),
    st.sampled_from([None, "", "*", "//", "https://x.example", "HTTPS://x?q=1", "mailto:a@b", " /a"]),
)


@settings(max_examples=3000, deadline=None)
@given(target)
@example("/a/%2E%2F/b")
@example("/a/%2e%2e%2f%2e%2e/b")
@example("/" + "a/" * 200)
@example("/weather/48.8566/2.3522")
@example("/lat/48.857/lng/-2.352/x/1.234")
def test_generated_targets_generalize_alike(t):
    assert_same([t])


ascii_text = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=70)
words = st.lists(
    st.sampled_from(list("aAbBzZ019-_.:@=+/~ ([") + [
        "at", "dot", "(at)", "[dot]", "example", "com", "co.uk", "jan", "Sept", "1987", "12", "tel:", "sk_live_", "ghp_",
        "(a)", ".at.", "+at+", "415", "555", "0172", "mar", "14", "3", "87", "th,"]),
    max_size=12,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(ascii_text | words | st.text(alphabet="0123456789abcdefABCDEF:.-", max_size=30))
@example("mirato(at)velunski(dot)com")
@example("jdoe-at-example-dot-co.uk")
@example("anna.schmidt(a)beispiel.de")
@example("jane.doe.at.gmail.com")
@example("jane.doe+at+gmail.com")
@example("415.555.0172")
@example("14.3.87")
@example("14mar87")
@example("0mar-14-87")
@example("x9feb03")
@example("a9feb03b")
def test_classify_segment_is_the_references(text):
    decided, placeholder = native.module().classify_segment(text, registrable_domain)
    assert decided
    assert placeholder == classify_segment(text)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(lambda s: not s.isascii()))
def test_non_ascii_is_left_to_the_reference(text):
    decided, _ = native.module().classify_segment(text, registrable_domain)
    assert not decided
    ref, nat = pair("rules")
    before = nat.fallbacks
    assert nat("/x/" + text) == ref("/x/" + text)
    assert nat.fallbacks == before + 1


def test_fullwidth_rule_segments_are_the_references():
    fullwidth = unicodedata.normalize("NFKC", "users").translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    assert_same([f"/{fullwidth}/jdoe", "/%EF%BD%95sers/jdoe"])


def test_non_ascii_rules_keep_the_reference():
    generalize = native.path_generalizer(["/straße/*"], ["q"])
    assert isinstance(generalize, PathGeneralizer)
