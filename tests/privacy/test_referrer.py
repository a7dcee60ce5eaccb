import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from logscrub.privacy.referrer import ReferrerGeneralizer, clean_hostname, registrable_domain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("www.Example.COM", "www.example.com"),
        ("example.com:8080", "example.com"),
        ("example.com.", "example.com"),
        ("jdoe:hunter2@shop.example.com:443", "shop.example.com"),
        ("https://jdoe@shop.example.com/path?q=1", "shop.example.com"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("localhost", "localhost"),
        ("localhost:3000", "localhost"),
    ],
)
def test_clean_hostname(text: str, expected: str) -> None:
    assert clean_hostname(text) == expected


@pytest.mark.parametrize(
    "text",
    [None, "", "intranet", "203.0.113.77", "203.0.113.77:80", "[2001:db8::1]", "2001:db8::1", "a..b.com",
     "under_score.com", "example.com:http", "a" * 64 + ".com", ".".join(["a"] * 130), "exa mple.com"],
)
def test_clean_hostname_rejects(text: str | None) -> None:
    assert clean_hostname(text) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.google.co.uk", "google.co.uk"),
        ("a.b.example.com", "example.com"),
        ("Example.COM:443", "example.com"),
        ("jdoe.github.io", "github.io"),  # ICANN section only: user subdomains are not registrable
        ("co.uk", None),
        ("localhost", None),
        ("203.0.113.77", None),
        (None, None),
    ],
)
def test_registrable_domain(host: str | None, expected: str | None) -> None:
    assert registrable_domain(host) == expected


@pytest.fixture(scope="module")
def generalize() -> ReferrerGeneralizer:
    return ReferrerGeneralizer(internal_domains=["shop.example.net"])


@pytest.mark.parametrize(
    ("referrer", "site", "expected"),
    [
        (None, "example.com", (None, "none")),
        ("", "example.com", (None, "none")),
        ("-", "example.com", (None, "none")),
        ("https://blog.example.com/post?id=7", "www.example.com:443", ("example.com", "internal")),
        ("https://a.shop.example.net/", "example.org", ("example.net", "internal")),
        ("https://other.example.net/", "example.org", ("example.net", "other")),
        ("https://www.google.co.uk/search?q=jdoe", "example.com", ("google.co.uk", "search")),
        ("https://www.google.com/", "google.com", ("google.com", "internal")),
        ("https://search.brave.com/search?q=x", None, ("brave.com", "search")),
        ("https://duckduckgo.com/", None, ("duckduckgo.com", "search")),
        ("https://yandex.ru/search/?text=x", None, ("yandex.ru", "search")),
        ("https://t.co/AbCdEf123", None, ("t.co", "social")),
        ("https://x.com/jdoe/status/1", None, ("x.com", "social")),
        ("https://l.facebook.com/l.php?u=x", None, ("facebook.com", "social")),
        ("https://lnkd.in/abc", None, ("lnkd.in", "social")),
        ("HTTPS://M.YOUTUBE.COM/watch?v=x", None, ("youtube.com", "social")),
        ("https://news.ycombinator.com/item?id=1", None, ("ycombinator.com", "other")),
        ("android-app://com.google.android.googlequicksearchbox/https/www.google.com", None, ("google.com", "search")),
        ("android-app://com.facebook.katana", None, ("facebook.com", "social")),
        ("android-app://com.jdoe.private.app/", None, (None, "other")),
        ("http://203.0.113.77/admin", None, (None, "other")),
        ("http://[2001:db8::1]:8080/", None, (None, "other")),
        ("file:///home/jdoe/notes.html", None, (None, "other")),
        ("data:text/html,hello", None, (None, "other")),
        ("www.example.com/page", None, (None, "other")),
        ("https://localhost:3000/", None, (None, "other")),
        ("not a url at all", None, (None, "other")),
    ],
)
def test_classification(
    generalize: ReferrerGeneralizer, referrer: str | None, site: str | None, expected: tuple[str | None, str]
) -> None:
    assert generalize(referrer, site) == expected


def test_invalid_internal_domain_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a valid DNS name"):
        ReferrerGeneralizer(internal_domains=["10.0.0.1"])


CANARIES = [
    "jdoe",
    "hunter2",
    "jdoe@example.com",
    "jdoe%40example.com",
    "s3cr3tT0k3nValue",
    "123e4567-e89b-12d3-a456-426614174000",
    "203.0.113.77",
    "2001:db8::1",
    "private",
]

CANARY_REFERRERS = [
    "https://jdoe:hunter2@www.example.org/account?email=jdoe@example.com",
    "https://www.google.com/search?q=jdoe%40example.com&token=s3cr3tT0k3nValue",
    "https://jdoe.github.io/private/123e4567-e89b-12d3-a456-426614174000",
    "https://jdoe.example.org/",
    "http://203.0.113.77/jdoe",
    "http://[2001:db8::1]/s3cr3tT0k3nValue",
    "http://jdoe@example.com@evil.example.org/",
    "http://evil.example.org\\@jdoe.example.com/",
    "android-app://com.jdoe.private/https/jdoe.example.org",
    "mailto:jdoe@example.com",
    "https://s3cr3tT0k3nValue.example.org/",
    "https://www.facebook.com/jdoe?ref=jdoe%40example.com",
]


@pytest.mark.parametrize("referrer", CANARY_REFERRERS)
def test_canaries_never_reach_the_output(generalize: ReferrerGeneralizer, referrer: str) -> None:
    published = repr(generalize(referrer, "www.example.net"))
    for canary in CANARIES:
        assert canary.lower() not in published.lower()


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120) | st.builds(lambda s: "https://" + s, st.text(max_size=80)), st.none() | st.text(max_size=40))
def test_arbitrary_text_never_raises(referrer: str, site: str | None) -> None:
    domain, kind = ReferrerGeneralizer()(referrer, site)
    assert kind in {"none", "internal", "search", "social", "other"}
    assert domain is None or clean_hostname(domain) == domain
    clean_hostname(referrer)
    registrable_domain(referrer)


def test_one_host_shares_a_result_but_look_alike_authorities_do_not() -> None:
    """Referrers are cached per host name; userinfo, ports or spaces must not ride on that cache."""
    generalize = ReferrerGeneralizer()
    assert generalize("https://www.google.com/search?q=a", None) == ("google.com", "search")
    assert generalize("https://WWW.Google.COM/x", None) == ("google.com", "search")
    assert generalize("https://www.google.com#x", None) == ("google.com", "search")
    assert generalize("https://www.google.com@evil.example.org/", None) == ("example.org", "other")
    assert generalize("https://www.google.com:443@evil.example.org/", None) == ("example.org", "other")
    assert generalize("https://www.google.com.evil.example.org/", None) == ("example.org", "other")
    assert generalize("https://www.google.com /", None) == (None, "other")
    assert generalize("https://www.google.com/", "www.google.com") == ("google.com", "internal")


# --- Private names (issue 12): a host under no ICANN suffix is a device or network name -------------

PRIVATE_SUFFIXES = ["local", "lan", "internal", "home.arpa", "localhost", "localdomain", "home", "corp", "intranet",
                    "test", "example", "invalid", "private", "priv", "dev.internal", "in-addr.arpa", "ip6.arpa"]


def _device_names(seed: int, n: int) -> list[str]:
    """Random host names as people and installers make them: alices-macbook, desktop-7f3k2q, nas2."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase
    out = []
    for _ in range(n):
        owner = "".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
        tail = rng.choice(["macbook", "pc", "laptop", "nas", "phone", "desktop", "ipad", ""])
        suffix = "".join(rng.choice(letters + string.digits) for _ in range(rng.randint(0, 6)))
        out.append("-".join(part for part in (owner, tail, suffix) if part))
    return out


def test_private_suffixes_are_not_icann_suffixes() -> None:
    """Guards the fixtures below: a list update that made one of them public would void the tests."""
    psl = PublicSuffixList(only_icann=True, accept_unknown=False)
    for suffix in PRIVATE_SUFFIXES:
        if not suffix.endswith("arpa"):
            assert psl.publicsuffix("host." + suffix) is None, suffix


@pytest.mark.parametrize(
    "referrer",
    ["http://alices-macbook.local:8080/", "http://alices-macbook.local/", "https://nas.lan/files/",
     "http://build.internal/job/1", "http://printer.home.arpa/", "http://app.localhost:3000/", "http://localhost/",
     "http://intranet/", "http://ALICES-MACBOOK.LOCAL./x", "http://jdoe:pw@alices-macbook.local/",
     "http://alices-macbook.notarealtld/", "http://77.100.51.198.in-addr.arpa/"],
)
def test_private_names_give_no_domain(generalize: ReferrerGeneralizer, referrer: str) -> None:
    assert generalize(referrer, "www.example.com") == (None, "other")
    assert registrable_domain(clean_hostname(referrer)) is None


def test_generated_device_names_never_reach_the_output() -> None:
    generalize = ReferrerGeneralizer()
    rng = random.Random(12)
    names = _device_names(12, 300)
    unknown = [tld for tld in ("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
                               for _ in range(50))
               if PublicSuffixList(only_icann=True, accept_unknown=False).publicsuffix("h." + tld) is None]
    assert len(unknown) > 40
    suffixes = PRIVATE_SUFFIXES + unknown
    for i, name in enumerate(names):
        host = name if i % 7 == 0 else f"{name}.{suffixes[i % len(suffixes)]}"
        for referrer in (f"http://{host}/", f"https://{host.upper()}:{8000 + i}/p?q=1", f"http://u@{host}./"):
            domain, kind = generalize(referrer, "www.example.com")
            assert (domain, kind) == (None, "other"), referrer
            assert name not in repr((domain, kind)).lower()


def test_configured_internal_private_names_stay_internal_without_a_domain() -> None:
    generalize = ReferrerGeneralizer(internal_domains=["corp.internal"])
    assert generalize("http://wiki.corp.internal/page", None) == (None, "internal")
    assert generalize("http://alices-macbook.local/", None) == (None, "other")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("www.example.co.uk", "example.co.uk"), ("shop.example.com", "example.com"), ("a.b.c.example.org", "example.org"),
     ("xn--bcher-kva.de", "xn--bcher-kva.de"), ("fritz.box", "fritz.box")],
)
def test_public_names_still_give_their_domain(host: str, expected: str) -> None:
    assert ReferrerGeneralizer()(f"https://{host}/x", None) == (expected, "other")
