"""Invariant 6, by class: generated variants of every personal value in a path never reach the template.

Each class is fed as many seeded variants as the generators in canaries.py make, in the positions,
cases and encodings that slipped through before (issue 12). The false-positive corpus and the
measured detection rates of uniformly random tokens are pinned here too.
"""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Callable

import pytest

import canaries
from logscrub.config import URLConfig
from logscrub.privacy.url import PathGeneralizer, classify_segment
from ordinary_paths import ordinary_paths

N = 300  # variants per class


@pytest.fixture(scope="module")
def generalize() -> PathGeneralizer:
    return PathGeneralizer(URLConfig().path_rules, query_allow=["q"])


def _published(generalize: PathGeneralizer, target: str) -> str:
    path, params = generalize(target)
    return f"{path} {params}".lower()


def _assert_hidden(generalize: PathGeneralizer, targets: list[str], *secrets: str) -> None:
    for target in targets:
        published = _published(generalize, target)
        for secret in secrets:
            assert secret.lower() not in published, f"{secret!r} from {target!r} published as {published!r}"


def _around(segment: str) -> list[str]:
    """The positions a value takes: last, middle, deep, with a trailing slash, as an allowed query value."""
    return [f"/x/{segment}", f"/api/v1/x/{segment}/details", f"/{segment}/", f"/search?q={segment}"]


# --- Names under path rules: any depth, any case, any encoding ------------------------------------

RULE_FORMS: list[Callable[[str], str]] = [
    lambda n: f"/users/{n}",
    lambda n: f"/Users/{n}",
    lambda n: f"/USERS/{n}/settings",
    lambda n: f"/en/users/{n}",
    lambda n: f"/api/v1/users/{n}",
    lambda n: f"/fr/members/{n}/posts",
    lambda n: f"/users%2F{n}",
    lambda n: f"/users%252F{n}",
    lambda n: f"/./users/{n}",
    lambda n: f"/x/../users/{n}",
    lambda n: f"/x/%2e%2e/users/{n}",
    lambda n: f"//users///{n}",
    lambda n: f"/%75sers/{n}",
    lambda n: "/" + unicodedata.normalize("NFKC", "users").translate(
        {c: c + 0xFEE0 for c in range(0x21, 0x7F)}) + f"/{n}",  # fullwidth letters
    lambda n: f"/users/{n};jsessionid=0",
    lambda n: f"/u/{n}",
    lambda n: f"/de/@{n}",
    lambda n: f"/~{n}/index.html",
    lambda n: f"/blog/author/{n}/page/2",
    lambda n: f"/People/{n}",
]


@pytest.mark.parametrize("form", range(len(RULE_FORMS)))
def test_names_under_rules_never_reach_the_template(generalize: PathGeneralizer, form: int) -> None:
    rng = random.Random(form)
    for segment, name in canaries.names(rng, N // 3):
        _assert_hidden(generalize, [RULE_FORMS[form](segment)], segment, name)


def test_a_rule_keyword_elsewhere_is_not_a_name() -> None:
    generalize = PathGeneralizer(["/users/*"])
    assert generalize("/docs/users")[0] == "/docs/users"
    assert generalize("/users-guide/intro")[0] == "/users-guide/intro"
    assert generalize("/Users/x/Users/y")[0] == "/Users/{param}/Users/{param}"


# --- Value classes ------------------------------------------------------------------------------------


def test_long_random_tokens(generalize: PathGeneralizer) -> None:
    rng = random.Random(1)
    for alphabet in (canaries.B62, canaries.B64URL, string.hexdigits.lower(), string.ascii_uppercase + string.digits):
        for token in canaries.tokens(rng, N // 4, low=40, high=64, alphabet=alphabet):
            _assert_hidden(generalize, _around(token), token)


def test_short_mixed_tokens(generalize: PathGeneralizer) -> None:
    """8 to 15 characters can spell a word, so this class is held to a measured rate (99.9%, floor 99.5%)."""
    _assert_hidden(generalize, ["/reset/Zx8kQp2mWv", "/s/aB3dE9xQ", "/s/aB3dE9xQ.png", "/r/Zx8kQp2mWv/confirm"],
                   "Zx8kQp2mWv", "aB3dE9xQ")
    tokens = canaries.short_tokens(random.Random(2), 3000)
    leaked = [t for t in tokens if t.lower() in _published(generalize, f"/reset/{t}")]
    assert len(leaked) <= len(tokens) * 0.005, leaked


def test_lowercase_base32_tokens(generalize: PathGeneralizer) -> None:
    rng = random.Random(3)
    for token in canaries.base32_tokens(rng, N):
        _assert_hidden(generalize, _around(token), token)


def test_prefixed_secrets(generalize: PathGeneralizer) -> None:
    rng = random.Random(4)
    for secret in canaries.secrets(rng, N):
        body = secret[-24:]
        _assert_hidden(generalize, [*_around(secret), f"/keys/token-{secret}"], secret, body)


def test_encoded_session_ids(generalize: PathGeneralizer) -> None:
    rng = random.Random(5)
    for sid in canaries.tokens(rng, N // 3, low=16, high=32, alphabet="0123456789ABCDEF") + canaries.short_tokens(rng, 30):
        targets = [f"/cart;jsessionid={sid}/checkout", f"/cart%3Bjsessionid%3D{sid}/checkout",
                   f"/cart%3bJSESSIONID%3d{sid}", f"/cart%253Bjsessionid%253D{sid}", f"/jsessionid={sid}/x"]
        _assert_hidden(generalize, targets, sid)
        assert generalize(targets[1])[0] == "/cart/checkout"


def test_emails_in_every_spelling(generalize: PathGeneralizer) -> None:
    rng = random.Random(6)
    for segment, local in canaries.emails(rng, N):
        _assert_hidden(generalize, _around(segment), local, segment)


def test_phones(generalize: PathGeneralizer) -> None:
    rng = random.Random(7)
    for segment, digits in canaries.phones(rng, N):
        shown = segment.replace("%20", " ")
        _assert_hidden(generalize, [*_around(segment), f"/call-me-{segment}"], shown, digits, digits[-6:])


def test_birth_dates(generalize: PathGeneralizer) -> None:
    rng = random.Random(8)
    for date in canaries.birth_dates(rng, N):
        _assert_hidden(generalize, _around(date), date.replace("%20", " "), date)


def test_macs(generalize: PathGeneralizer) -> None:
    rng = random.Random(9)
    for segment, hexes in canaries.macs(rng, N):
        _assert_hidden(generalize, [*_around(segment), f"/devices/{hexes}", f"/devices/{hexes.upper()}"],
                       segment, hexes, hexes[:6] + hexes[-6:], segment.replace("%3A", ":"))


def test_coordinates(generalize: PathGeneralizer) -> None:
    rng = random.Random(10)
    for segment, numbers in canaries.coordinates(rng, N):
        _assert_hidden(generalize, [*_around(segment), f"/maps/place/{segment}/data"], *numbers)


def test_coordinates_split_over_segments(generalize: PathGeneralizer) -> None:
    rng = random.Random(12)
    for path, numbers, template in canaries.split_coordinates(rng, N):
        _assert_hidden(generalize, [f"/x/{path}", f"/api/v1/x/{path}/details", f"/{path}/"], *numbers)
        assert generalize(f"/weather/{path}")[0] == f"/weather/{template}"


def test_embedded_ipv4_in_paths(generalize: PathGeneralizer) -> None:
    rng = random.Random(11)
    for v6, v4 in canaries.embedded_ipv4_clients(rng, N // 3):
        _assert_hidden(generalize, _around(v6) + _around(v4), v4, v6)


# --- What each class looks like, by example ---------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "placeholder"),
    [
        ("1987-03-14", "{date}"), ("14.03.1987", "{date}"), ("03-14-1987", "{date}"), ("14_3_1987", "{date}"),
        ("14-mar-1987", "{date}"), ("March-14-1987", "{date}"), ("14march1987", "{date}"), ("31.05.87", "{date}"),
        ("born-1987-03-14", "{date}"), ("1987 March 14", "{date}"),
        ("14.3.87", "{date}"), ("3.4.87", "{date}"), ("14-3-87", "{date}"), ("3-14-87", "{date}"),
        ("03.14.87", "{date}"), ("14mar87", "{date}"), ("14-mar-87", "{date}"), ("14%20March%2087", "{date}"),
        ("mar-14-87", "{date}"), ("March%2014th,%2087", "{date}"),
        ("06.12.34.56.78", "{phone}"), ("06 12 34 56 78", "{phone}"), ("06-12-34-56-78", "{phone}"),
        ("(555) 123-4567", "{phone}"), ("+33 6 12 34 56 78", "{phone}"), ("+1-555-0100", "{phone}"),
        ("tel:+33612345678", "{phone}"), ("call-06-12-34-56-78", "{phone}"),
        ("415.555.0172", "{phone}"), ("1.415.555.0172", "{phone}"), ("+1.415.555.0172", "{phone}"),
        ("415-555-0172", "{phone}"), ("415%20555%200172", "{phone}"), ("+1%20415%20555%200172", "{phone}"),
        ("00:1A:2B:3C:4D:5E", "{mac}"), ("00-1a-2b-3c-4d-5e", "{mac}"), ("001a.2b3c.4d5e", "{mac}"),
        ("001A2B3C4D5E", "{mac}"),
        ("48.8566,2.3522", "{geo}"), ("@48.85,2.35,15z", "{geo}"), ("48.8566;2.3522", "{geo}"),
        ("-33.8688, 151.2093", "{geo}"),
        ("name(at)example.com", "{email}"), ("name[at]example.com", "{email}"), ("name at example.com", "{email}"),
        ("name-at-example.com", "{email}"), ("name＠example.com", "{email}"),
        ("name [at] example [dot] com", "{email}"), ("name at example dot co dot uk", "{email}"),
        ("anna.schmidt(a)beispiel.de", "{email}"), ("name%20(a)%20example.de", "{email}"),
        ("name[a]example.com", "{email}"), ("jane.doe.at.gmail.com", "{email}"), ("jane.doe+at+gmail.com", "{email}"),
        ("name.at.example.co.uk", "{email}"),
        ("Zx8kQp2mWv", "{token}"), ("aB3dE9xQ", "{token}"), ("mfrggzdfmztwq2lkmfrggzdf", "{token}"),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "{token}"), ("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", "{token}"),
        ("xoxb-2485-aBcDeFgHiJ", "{token}"), ("AKIAIOSFODNN7EXAMPLE", "{token}"), ("jsessionid=0123456789ABCDEF", "{hash}"),
    ],
)
def test_class_examples(segment: str, placeholder: str) -> None:
    """Through the generalizer, which decodes (NFKC folds the fullwidth ＠) before classifying."""
    assert PathGeneralizer()(f"/x/{segment}")[0] == f"/x/{placeholder}"


@pytest.mark.parametrize(
    "segment",
    ["1987", "2024-05", "05-2024", "jquery-3.6.0.min.js", "day-4-data-sources.html", "v2", "dashboard3",
     "look-at-this.html", "stay-at-home-mom", "meet-at-noon", "iPhone15", "Win10Pro", "HTML5Game", "GettingStartedWithKafka",
     "FrequentlyAskedQuestions", "OpenSans-Bold.woff", "logo@2x.png", "vue@3.4.15", "ubuntu-22.04.3-desktop-amd64.iso",
     "python-3.12.1-amd64.exe", "1.2.3", "10.15.7", "INSTALLATIONGUIDES", "Rechtsschutzversicherungen",
     "przedsiebiorczosc", "internationalization", "top-10-tips-for-2024", "chapter-1-2-3"],
)
def test_ordinary_segments_stay(segment: str) -> None:
    assert classify_segment(segment) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/call/415.555.0172", "/call/{phone}"),
        ("/v1.2.3/", "/v1.2.3/"),
        ("/2.0/", "/2.0/"),
        ("/js/jquery-3.6.0.min.js", "/js/jquery-3.6.0.min.js"),
        ("/ajax/libs/jquery/3.7.1/jquery.min.js", "/ajax/libs/jquery/3.7.1/jquery.min.js"),
        ("/chrome/120.0.6099/", "/chrome/120.0.6099/"),
        ("/dist/app.min.js", "/dist/app.min.js"),
    ],
)
def test_a_dotted_phone_is_not_a_version(target: str, expected: str) -> None:
    """3.3.4 digits with dots is a North-American phone number; versions are numbered otherwise."""
    assert PathGeneralizer()(target)[0] == expected


@pytest.mark.parametrize(
    "segment",
    ["example.at", "www.example.at", "shop.example.at", "look.at.this.html", "look+at+this", "stay+at+home",
     "meet.at.noon", "what.at.min.js", "Foo_(a)", "section-(a)-rules", "app.min.js", "chat", "update",
     "data.at.2024.csv", "at.example.com"],
)
def test_at_in_words_and_host_names_is_not_an_email(segment: str) -> None:
    """'.at.', '+at+' and '(a)' make an email only before a registrable domain: not in words, file
    names or Austrian host names."""
    assert PathGeneralizer()(f"/sites/{segment}")[0] == f"/sites/{segment}"


@pytest.mark.parametrize(
    ("segment", "placeholder"),
    [
        ("1.2.3", None), ("3.6.0", None), ("10.15.7", None), ("1.26.4", None), ("3.0.20", None), ("4.17.21", None),
        ("v3.11.10", None), ("22.04", None), ("nov2023", None), ("june-2024-report", None), ("win10-may-update", None),
        ("3.11.10", "{date}"), ("2.7.18", "{date}"), ("dob14mar87", "{date}"),
        ("8bd3d540935ba6e85eb9feb03dc838a3ZkQ", "{token}"), ("d003ceef71a808ac8dec61d6c26507c37056b209.tar.gz", "{token}"),
    ],
)
def test_short_dates_and_versions(segment: str, placeholder: str | None) -> None:
    """A day and month before a two-digit year is a date; a version with a one-digit patch, a month or
    day out of range (4.17.21: dotted, month first only when zero-padded) or a 'v' is kept. Day first,
    a version with a two-digit patch cannot be told from a date: it reads as one, the safe side. A
    month name with a two-digit year inside a hex id (9feb03dc) is not a date: the id is a token."""
    assert classify_segment(segment) == placeholder


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/weather/48.8566/2.3522", "/weather/{geo}/{geo}"),
        ("/weather/-33.8688/151.2093/today", "/weather/{geo}/{geo}/today"),
        ("/near/2.3522/48.8566", "/near/{geo}/{geo}"),
        ("/lat/48.857/lng/2.352", "/lat/{geo}/lng/{geo}"),
        ("/w/48.8566/x/../2.3522", "/w/{geo}/{geo}"),
        ("/weather/48.8566", "/weather/48.8566"),  # a latitude alone places no one
        ("/doi/10.1038/nature-physics", "/doi/10.1038/nature-physics"),
        ("/x/48.86/2.35", "/x/48.86/2.35"),  # 2 places, about 1 km: a neighbourhood, not a door
        ("/x/48.8566/a/b/2.3522", "/x/48.8566/a/b/2.3522"),
        ("/x/95.1234/95.1234", "/x/95.1234/95.1234"),
        ("/python/3.12/3.12.1/", "/python/3.12/3.12.1/"),
        ("/ubuntu/22.04/22.10/", "/ubuntu/22.04/22.10/"),
        ("/2024/11/", "/2024/{id}/"),  # as before: a month segment is a number, and every number an id
    ],
)
def test_coordinates_over_two_segments(target: str, expected: str) -> None:
    """Decimals of 3 places or more at most one segment apart, one a latitude, the other within 180."""
    assert PathGeneralizer()(target)[0] == expected


def test_year_and_year_month_alone_are_kept() -> None:
    """A year or a year-month is shared by a large part of any audience; a day is not (see url.py)."""
    generalize = PathGeneralizer()
    assert generalize("/archive/1987")[0] == "/archive/1987"
    assert generalize("/archive/1987-03")[0] == "/archive/1987-03"
    assert generalize("/archive/1987-03-14")[0] == "/archive/{date}"


# --- False positives ------------------------------------------------------------------------------------

# Paths of the corpus that get a placeholder, and why: every number is an id (a month segment, 3+ digit
# runs such as rfc7231 or 1920x1080), as before issue 12. Nothing the new classes or rules added.
KNOWN_FALSE_POSITIVES = 16


def test_false_positives_on_ordinary_paths() -> None:
    """Measured: 16 of the 515 ordinary paths (3.1%) get a placeholder, all through the number rules.

    With those rules set aside (a segment of digits, or a run of 3+ that is not a year), none does.
    """
    generalize = PathGeneralizer(URLConfig().path_rules)
    paths = ordinary_paths()
    templated = {p: generalize(p)[0] for p in paths if "{" in (generalize(p)[0] or "")}
    assert len(paths) >= 500
    assert len(templated) <= KNOWN_FALSE_POSITIVES, templated
    for path, template in templated.items():
        assert set(template.split("/")) - set(path.split("/")) == {"{id}"}, (path, template)


# --- Measured detection of uniformly random tokens ---------------------------------------------------
# A token of a few characters can spell a word; these floors are what the classifier reaches on seeded
# samples (the figures in parentheses), so a change that loses ground fails here.

RATES = [
    (canaries.B62, 8, 0.92),  # (0.937)
    (canaries.B62, 12, 0.97),  # (0.985)
    (canaries.B62, 16, 0.985),  # (0.993)
    (canaries.B62, 24, 0.995),  # (0.999)
    (canaries.B64URL, 10, 0.95),  # (0.962)
    (canaries.B64URL, 16, 0.985),  # (0.993)
    (canaries.B32, 12, 0.90),  # (0.917)
    (canaries.B32, 16, 0.95),  # (0.968)
    (canaries.B32, 26, 0.985),  # (0.993)
    (canaries.B32, 32, 0.99),
]


@pytest.mark.parametrize(("alphabet", "length", "floor"), RATES)
def test_detection_rate_of_random_tokens(alphabet: str, length: int, floor: float) -> None:
    rng = random.Random(length)
    sample = ["".join(rng.choice(alphabet) for _ in range(length)) for _ in range(3000)]
    caught = sum(classify_segment(token) is not None for token in sample) / len(sample)
    assert caught >= floor
