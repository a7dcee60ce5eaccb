import pytest
import user_agents
from hypothesis import given, settings
from hypothesis import strategies as st

from logscrub.privacy.useragent import (
    _AUTOMATION,
    _AUTOMATION_LOWER,
    UNKNOWN,
    UAGeneralizer,
    UAInfo,
    _spelled_out,
    is_publishable_family,
)

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.110 Safari/537.36"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 12; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_MOBILE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
CURL = "curl/8.4.0"
WINDOWS_PHONE = (
    "Mozilla/5.0 (Mobile; Windows Phone 8.1; Android 4.0; ARM; Trident/7.0; Touch; rv:11.0; IEMobile/11.0; "
    "NOKIA; Lumia 635) like iPhone OS 7_0_3 Mac OS X AppleWebKit/537 (KHTML, like Gecko) Mobile Safari/537"
)
KINDLE = (
    "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Silk/3.68 like Chrome/39.0.2171.93 Safari/537.36"
)
SAMPLE = [
    CHROME_WIN, ANDROID_PHONE, ANDROID_TABLET, IPAD, IPHONE, MAC_SAFARI, FIREFOX_LINUX,
    GOOGLEBOT, GOOGLEBOT_MOBILE, CURL, WINDOWS_PHONE, KINDLE,
]


@pytest.fixture(scope="module")
def generalize() -> UAGeneralizer:
    return UAGeneralizer()


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WIN, UAInfo("Chrome", "120", "Windows", "10", "desktop", False)),
        (ANDROID_PHONE, UAInfo("Chrome Mobile", "120", "Android", "13", "mobile", False)),
        (ANDROID_TABLET, UAInfo("Chrome", "119", "Android", "12", "tablet", False)),
        (IPAD, UAInfo("Mobile Safari", "16", "iOS", "16", "tablet", False)),
        (IPHONE, UAInfo("Mobile Safari", "17", "iOS", "17", "mobile", False)),
        (MAC_SAFARI, UAInfo("Safari", "17", "Mac OS X", "10", "desktop", False)),
        (FIREFOX_LINUX, UAInfo("Firefox", "121", "Ubuntu", None, "desktop", False)),
        (GOOGLEBOT, UAInfo("Googlebot", "2", "Other", None, "bot", True)),
        (CURL, UAInfo("curl", "8", "Other", None, "bot", True)),  # user-agents says "other": a tool is automation
    ],
)
def test_known_user_agents(generalize: UAGeneralizer, ua: str, expected: UAInfo) -> None:
    assert generalize(ua) == expected


def _legacy_device_class(ua: str) -> str:
    agent = user_agents.parse(ua)
    for device, flag in (
        ("bot", agent.is_bot),
        ("tablet", agent.is_tablet),
        ("mobile", agent.is_mobile),
        ("desktop", agent.is_pc),
    ):
        if flag:
            return device
    return "other"


@pytest.mark.parametrize("ua", [ua for ua in SAMPLE if ua != CURL])
def test_device_class_agrees_with_user_agents_library(generalize: UAGeneralizer, ua: str) -> None:
    legacy = user_agents.parse(ua)
    info = generalize(ua)
    assert info.device == _legacy_device_class(ua)
    assert info.browser == legacy.browser.family
    assert info.os == legacy.os.family


@pytest.mark.parametrize("ua", [None, "", "-"])
def test_missing_user_agent_is_unknown(generalize: UAGeneralizer, ua: str | None) -> None:
    assert generalize(ua) == UNKNOWN


CANARIES = [
    "alice@example.com",
    "alice%40example.com",
    "jdoe42",
    "jdoecanary",
    "a1b2c3d4e5f6a7b8c9d0",
    "123e4567-e89b-12d3-a456-426614174000",
    "426614174000",
    "203.0.113.77",
    "2001:db8::1",
    "7f3a9c2e1b",
    "hunter2pass",
]

# Each places a canary where a ua-parser rule copies UA text into the browser, OS or device family.
CANARY_UAS = [
    "MyCrawler-jdoe42/1.0 (+mailto:alice@example.com)",
    "Mozilla/5.0 (compatible; MyCrawler-jdoe42/1.0; +mailto:alice@example.com)",
    "Mozilla/5.0 (compatible; jdoecanary-bot/1.0; +mailto:alice@example.com) a1b2c3d4e5f6a7b8c9d0",
    "Mozilla/5.0 (compatible; jdoe42bot/2.1; +http://example.com/bot)",
    "jdoe42 the spider/1.0",
    "alice@example.com/1.0 CFNetwork/1220.1 Darwin/20.3.0",
    "alice%40example.com/1.0 CFNetwork/1220.1 Darwin/20.3.0",
    "jdoe42-iPhone/3 CFNetwork/1220.1 Darwin/20.3.0",
    "Mozilla/5.0 (compatible; a1b2c3d4e5f6a7b8c9d0bot/1.0)",
    "123e4567-e89b-12d3-a456-426614174000/2 CFNetwork/1220.1 Darwin/20.3.0",
    "203.0.113.77/1.0 CFNetwork/1220.1 Darwin/20.3.0",
    "2001:db8::1/1.0 CFNetwork/1220.1 Darwin/20.3.0",
    "App-7f3a9c2e1b/1.0 CFNetwork/1220.1 Darwin/20.3.0",
    "Mozilla/5.0 (Windows NT 10.0; alice@example.com) Firefox/121.0 token=a1b2c3d4e5f6a7b8c9d0",
    "Mozilla/5.0 (Linux; Android 13; user jdoe42 hunter2pass 203.0.113.77) Chrome/120.0 Mobile Safari/537.36",
    "HbbTV/1.2.1 (; jdoecanary ; 2015 ;)",
    "jdoe42:hunter2pass@203.0.113.77",
]


@pytest.mark.parametrize("ua", CANARY_UAS)
def test_canaries_never_reach_any_field(generalize: UAGeneralizer, ua: str) -> None:
    published = repr(generalize(ua))
    for canary in CANARIES:
        assert canary not in published


@pytest.mark.parametrize(
    "ua",
    [
        "MyApp/1.0 CFNetwork/1408.0.4 Darwin/22.5.0",
        "alice@example.com/1.0 CFNetwork/1220.1 Darwin/20.3.0",
        "App-7f3a9c2e1b/1.0 CFNetwork/1220.1 Darwin/20.3.0",
    ],
)
def test_free_text_app_name_becomes_other_without_version(generalize: UAGeneralizer, ua: str) -> None:
    info = generalize(ua)
    assert (info.browser, info.browser_major) == ("Other", None)
    assert info.os == "iOS"


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; jdoecanary-bot/1.0; +mailto:alice@example.com)",
        "Mozilla/5.0 (compatible; a1b2c3d4e5f6a7b8c9d0bot/1.0)",
    ],
)
def test_free_text_bot_name_is_other_but_still_a_bot(generalize: UAGeneralizer, ua: str) -> None:
    info = generalize(ua)
    assert (info.browser, info.browser_major, info.device, info.bot) == ("Other", None, "bot", True)


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot"),  # curated
        ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "SemrushBot"),  # spelled out
        ("Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", "MJ12bot"),
        ("Go-http-client/2.0", "Go-http-client"),
    ],
)
def test_known_bot_names_are_kept(generalize: UAGeneralizer, ua: str, family: str) -> None:
    assert generalize(ua).browser == family


@pytest.mark.parametrize(
    "family",
    ["Firefox", "Chrome Mobile WebView", "Mobile Safari UI/WKWebView", "Googlebot", "MJ12bot", "Y!J-BRW",
     "Python Requests", "Windows", "Mac OS X", "FreeBSD", "AhrefsBot"],
)
def test_publishable_families(family: str) -> None:
    assert is_publishable_family(family)


@pytest.mark.parametrize(
    "family", ["jdoe42bot", "jdoecanary-bot", "MyCrawler-jdoe42", "MyApp", "alice@example.com", "10.1.2.3", ""]
)
def test_unpublishable_families(family: str) -> None:
    assert not is_publishable_family(family)


@pytest.mark.parametrize(
    ("family", "regex", "expected"),
    [
        ("Static Name", r"(whatever.*)", {"Static Name"}),
        ("$1", r"\b(Foo|Ba[rz]|Qux(?:-Pro|))/(\d+)", {"Foo", "Bar", "Baz", "Qux", "Qux-Pro"}),
        ("$1", r"(Known|\w+bot|Other[^/]{0,30})/(\d+)", {"Known"}),
        ("$1 for ArcGIS", r"(Collector|Explorer)/(\d+)", {"Collector for ArcGIS", "Explorer for ArcGIS"}),
        ("$1", r"^(.{0,200})/(\d+) CFNetwork", set()),
        ("$1", r"([A-z]+[Bb]ot)", set()),
        ("$1 $2", r"(Foo) (Bar)", set()),
    ],
)
def test_spelled_out_names_exclude_free_text(family: str, regex: str, expected: set[str]) -> None:
    assert _spelled_out(family, regex) == expected


def test_major_must_be_short_digits(generalize: UAGeneralizer) -> None:
    info = generalize(CHROME_WIN.replace("Chrome/120.0", "Chrome/1234567.0"))
    assert (info.browser, info.browser_major) == ("Chrome", None)


def test_results_are_cached_and_cache_is_bounded() -> None:
    generalize = UAGeneralizer(cache_size=2)
    first = generalize(CHROME_WIN)
    assert generalize(CHROME_WIN) is first
    for ua in SAMPLE:
        generalize(ua)
    assert generalize(CHROME_WIN) is not first
    assert generalize(CHROME_WIN) == first


def test_negative_cache_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="cache_size"):
        UAGeneralizer(cache_size=-1)


def test_undecodable_bytes_do_not_break_the_native_resolver(generalize: UAGeneralizer) -> None:
    info = generalize("Mozilla/5.0 (Windows NT 10.0) Firefox/121.0 \udcff\udc80")
    assert (info.browser, info.os) == ("Firefox", "Windows")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9@.:_ -]{1,40}/\d{1,3}\.\d CFNetwork/1 Darwin/2", fullmatch=True))
def test_arbitrary_text_gives_a_well_formed_result(ua: str) -> None:
    info = UAGeneralizer(cache_size=0)(ua)
    assert info.device in {"desktop", "mobile", "tablet", "bot", "other"}
    assert info.bot == (info.device == "bot")
    assert info.browser == "Other" or is_publishable_family(info.browser)
    assert info.os == "Other" or is_publishable_family(info.os)
    for major in (info.browser_major, info.os_major):
        assert major is None or (major.isdigit() and len(major) <= 5)
    assert "@" not in info.browser + info.os


@pytest.mark.parametrize(
    "ua",
    [
        "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
        "Tiny Tiny RSS/1.11 (http://tt-rss.org/)",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
        "Chef Client/10.18.2 (ruby-1.9.3-p327; ohai-6.16.0; x86_64-linux; +http://opscode.com)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:25.0) Gecko/20100101 Firefox/3.6 (FlipboardProxy/1.1; +http://flipboard.com/browserproxy)",
        "Digg Feed Fetcher 1.0 (Digg/1.0; +http://digg.com) Mozilla/5.0 AppleWebKit/534.48.3 Safari/534.48.3",
        "python-requests/2.31.0",
    ],
)
def test_automated_clients_seen_in_real_logs_are_bots(generalize: UAGeneralizer, ua: str) -> None:
    info = generalize(ua)
    assert (info.device, info.bot) == ("bot", True)


@pytest.mark.parametrize(
    ("ua", "bot"),
    [
        ("MyMONITOR/2.0", True),
        ("Some-CRAWLER", True),
        ("Acme SPIDER \u00e9dition", True),  # not ASCII: the case-insensitive search itself
        ("\u017flurp/1.0", True),  # long s folds to s only under case-insensitive matching
        ("Acme Browser/1.0 (Linux)", False),
        ("Acme Browser \u00e9dition/1.0", False),
    ],
)
def test_automation_words_match_in_any_case(generalize: UAGeneralizer, ua: str, bot: bool) -> None:
    assert generalize(ua).bot is bot


AUTOMATION_WORDS = ["rss", "bot", "bot/", "crawl", "http://", "+http", "www.", "client/", "java/", "check"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(AUTOMATION_WORDS) | st.text(alphabet="rsRSbBoOtT _-/.:+x1", max_size=4), max_size=6))
def test_lower_case_automation_search_is_the_case_insensitive_one(parts: list[str]) -> None:
    """The ASCII fast path (lower-cased text, ``\\brss\\b`` rewritten) finds what the original pattern finds."""
    ua = "".join(parts)
    assert (_AUTOMATION_LOWER.search(ua.lower()) is not None) == (_AUTOMATION.search(ua) is not None)


@pytest.mark.parametrize(
    ("ua", "bot"),
    [("rss", True), ("my rss/1", True), ("x-RSS", True), ("_rss", False), ("1rss", False), ("rssx", False), ("crss", False)],
)
def test_rss_is_a_word(generalize: UAGeneralizer, ua: str, bot: bool) -> None:
    assert generalize(ua).bot is bot
