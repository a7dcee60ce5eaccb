"""``logscrub mask``: the same lines in the same format, with no canary of any class left in them."""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path

import orjson
import pytest

import canaries
from logscrub.config import load
from logscrub.errors import Refused
from logscrub.files.read import Inputs
from logscrub.parsing.formats import make_parser
from logscrub.run.mask import Masker, MaskSummary, mask, quoted
from logscrub.scrub import build

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "access.log"
IP_MODES = ("truncate", "pseudonym", "drop")


def run(tmp_path: Path, lines: list[str], fmt: str = "auto", *, gz: bool = False, **options) -> tuple[str, MaskSummary]:
    env = {"LOGSCRUB_INPUT__FORMAT": fmt, **options.pop("env", {})}
    data = ("\n".join(lines) + "\n").encode()
    src = tmp_path / ("in.log.gz" if gz else "in.log")
    src.write_bytes(gzip.compress(data) if gz else data)
    out = io.BytesIO()
    summary = mask(load(None, env), Inputs([str(src)]), out, progress=False, **options)
    return out.getvalue().decode(), summary


def leaked(text: str, forbidden: list[str]) -> list[str]:
    low = text.lower()
    return [value for value in forbidden if value.lower() in low]


def broken(line: str) -> str:
    """A class line that no longer parses (its time is gone): it reaches mask's free-text masking."""
    start = line.index(" [") + 1
    return line[:start] + "[yesterday]" + line[line.index("] ", start) + 1:]


# ---- privacy canaries -------------------------------------------------------------------------

CANARY_CASES = [
    ("combined", canaries.combined_lines, {}),
    ("json", canaries.json_lines, {"LOGSCRUB_IP__TRUSTED_PROXIES": "[198.51.100.0/24]"}),
    ("json", canaries.json_lines, {}),
]


@pytest.mark.parametrize("agents", ["generalize", "keep"])
@pytest.mark.parametrize("unparsed", ["drop", "mask"])
@pytest.mark.parametrize("ip_mode", IP_MODES)
@pytest.mark.parametrize("fmt,make,env", CANARY_CASES, ids=["combined", "json-behind-proxy", "json"])
def test_no_canary_survives_mask(tmp_path, fmt, make, env, ip_mode, unparsed, agents):
    lines = make()
    text, summary = run(tmp_path, lines, fmt, env={"LOGSCRUB_IP__MODE": ip_mode, **env},
                        unparsed=unparsed, user_agent=agents)
    assert summary.lines == len(lines)
    bad = sum(summary.unparsed.values())
    assert bad >= 1 and summary.written == len(lines) - (bad if unparsed == "drop" else 0)
    assert len(text.splitlines()) == summary.written
    assert not leaked(text, canaries.FORBIDDEN), text


@pytest.mark.parametrize("agents", ["generalize", "keep"])
@pytest.mark.parametrize("ip_mode", IP_MODES)
def test_no_class_variant_survives_mask(tmp_path, ip_mode, agents):
    """Every generated class (names under path rules, tokens, secrets, emails, phones, dates, MACs,
    coordinates, embedded IPv4, private referrer hosts), in lines that parse and in lines that do not."""
    lines, forbidden, templates = canaries.class_lines()
    assert len(forbidden) > 150
    unparsable = [broken(line) for line in lines]
    text, summary = run(tmp_path, lines + unparsable, "combined", env={"LOGSCRUB_IP__MODE": ip_mode},
                        unparsed="mask", user_agent=agents)
    assert summary.written == 2 * len(lines) and summary.unparsed["bad_time"] == len(lines)
    found = leaked(text, forbidden)
    assert not found, f"{found[:5]} leaked"
    # The parsed half keeps what the analytics would: the templates, not a blank.
    missing = [t for t in set(templates) if f'"GET {t} HTTP/1.1"' not in text]
    assert not missing, missing


def test_addresses_and_emails_in_unparsed_lines_are_masked_however_they_are_written(tmp_path):
    rng = random.Random(7)
    addresses = [canaries.IPV4, canaries.IPV6, f"[{canaries.IPV6}]:443", f"::ffff:{canaries.IPV4}",
                 f"{canaries.IPV4}:8080", *(v6 for v6, _ in canaries.embedded_ipv4_clients(rng, 6))]
    emails = [canaries.EMAIL, canaries.EMAIL_ENC, f"<{canaries.EMAIL}>", f"mailto:{canaries.EMAIL}"]
    lines = [f"garbage {a} then {e} and {canaries.TOKEN}" for a in addresses for e in emails]
    text, summary = run(tmp_path, lines, "combined", unparsed="mask")
    assert summary.unparsed["no_match"] == len(lines) == summary.written
    assert not leaked(text, [*canaries.FORBIDDEN, *addresses, *emails]), text


# ---- the same format, still parsing ----------------------------------------------------------

def _variants() -> dict[str, list[str]]:
    combined = SAMPLE.read_text().splitlines()
    return {
        "combined": combined + canaries.combined_lines()[:7],
        "common": [line[: line.index('"', line.index('" ') + 2) - 1] for line in combined[:500]],
        "vhost_combined": [f"www.example.com:443 {line}" for line in combined[:500]],
        "json": [json.dumps({"remote_addr": f"203.0.113.{i % 250}", "time_iso8601": "2026-11-28T10:00:00+00:00",
                             "request": f"GET /users/u{i}?page=2&sid=tok{i:030d} HTTP/1.1", "status": "200",
                             "body_bytes_sent": "5", "http_referer": "https://www.bing.com/search?q=x",
                             "http_user_agent": canaries.UA_NORMAL}) for i in range(300)],
    }


@pytest.mark.parametrize("ip_mode", IP_MODES)
@pytest.mark.parametrize("fmt", ["combined", "common", "vhost_combined", "json"])
def test_what_mask_writes_parses_with_the_same_parser(tmp_path, fmt, ip_mode):
    lines = _variants()[fmt]
    parse = make_parser(fmt)
    sample = parse(lines[0])
    text, summary = run(tmp_path, lines, fmt, env={"LOGSCRUB_IP__MODE": ip_mode, "LOGSCRUB_URL__QUERY_ALLOW": "page"})
    out = text.splitlines()
    assert len(out) == summary.written == summary.lines - sum(summary.unparsed.values()) > 0
    for line in out:
        req = parse(line)  # raises ParseError if mask broke the format
        assert req.user is None
        assert req.referrer is None or (req.referrer.startswith("https://") and req.referrer.count("/") == 3)
        assert req.forwarded_for is None
        if ip_mode == "truncate":
            assert req.client is not None and req.client.endswith((".0", "::")), req.client
        elif ip_mode == "pseudonym":
            assert req.client is not None and req.client.startswith("ip-")
        else:
            assert req.client is None
    first = parse(out[0])
    assert (first.time, first.status, first.bytes) == (sample.time, sample.status, sample.bytes)


def test_auto_detects_the_format_and_gzip_is_read(tmp_path):
    lines = _variants()["vhost_combined"][:50]
    text, summary = run(tmp_path, lines, gz=True)
    assert summary.format == "vhost_combined" and summary.written == 50
    assert all(line.startswith("www.example.com:443 ") for line in text.splitlines())


def test_each_field_of_a_combined_line(tmp_path):
    line = (f'[{canaries.IPV6}]:51234 ident {canaries.USER} [28/Nov/2026:10:00:01 +0100] '
            f'"GET /users/{canaries.USER}/orders/12345?page=2&email={canaries.EMAIL_ENC} HTTP/1.1" 200 512 '
            f'"https://www.google.co.uk/search?q={canaries.USER}" "{canaries.UA_NORMAL}" 0.123 "{canaries.IPV4}"')
    env = {"LOGSCRUB_URL__QUERY_ALLOW": "page"}
    text, _ = run(tmp_path, [line], "combined", env=env)
    assert text == ('2001:db8:abcd:: - - [28/Nov/2026:10:00:01 +0100] "GET /users/{param}/orders/{id}?page=2 '
                    'HTTP/1.1" 200 512 "https://google.co.uk/" "Firefox/128 (Windows 10; desktop)" 0.123 "[redacted]"\n')
    kept, _ = run(tmp_path, [line], "combined", env=env, user_agent="keep")
    assert f'"{canaries.UA_NORMAL}"' in kept


def test_vhosts_follow_the_core_rule_for_sites(tmp_path):
    lines = [f'{host} 192.0.2.1 - - [28/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'
             for host in ("WWW.Example.COM:443", f"{canaries.IPV4}:80", f"{canaries.EMAIL}:443", "shop.example.org")]
    text, summary = run(tmp_path, lines, "vhost_combined")
    hosts = [line.split(" ", 1)[0] for line in text.splitlines()]
    scrubber = build.scrubber(load(None, {}), "vhost_combined", *build.key_rings(load(None, {}), None))
    assert hosts == [scrubber.site("WWW.Example.COM") + ":443", scrubber.site(canaries.IPV4) + ":80",
                     scrubber.site(canaries.EMAIL) + ":443", scrubber.site("shop.example.org")]
    assert hosts == ["www.example.com:443", "(ip):80", "example.org:443", "shop.example.org"]
    assert summary.written == 4


def test_json_keeps_the_object_and_replaces_its_fields(tmp_path):
    doc = {"time_iso8601": "2026-11-28T10:00:08+00:00", "remote_addr": "10.0.0.7", "remote_user": canaries.USER,
           "request": f"GET /reset/{canaries.TOKEN} HTTP/2.0", "status": 200, "body_bytes_sent": 5,
           "http_referer": f"http://{canaries.USER}.example.net/a?b=c", "http_user_agent": canaries.UA_CANARY,
           "http_x_forwarded_for": f"{canaries.IPV4}, 10.0.0.9", "host": "www.example.com",
           "http_cookie": f"sid={canaries.TOKEN}; mail={canaries.EMAIL}", "request_time": 0.012,
           "upstream": {"addr": f"{canaries.IPV4}:8080", "list": [canaries.EMAIL, 3]}}
    text, _ = run(tmp_path, [json.dumps(doc)], "json", env={"LOGSCRUB_IP__TRUSTED_PROXIES": "[10.0.0.0/8]"})
    out = orjson.loads(text)
    assert list(out) == list(doc)  # same keys, same order
    assert out["remote_addr"] == "198.51.100.0"  # the client behind our proxies, generalized
    assert out["remote_user"] is None and out["http_x_forwarded_for"] is None
    assert out["request"] == "GET /reset/{token} HTTP/2.0"
    assert out["http_referer"] == "https://example.net/"
    assert out["http_user_agent"] == "Other (Other; bot)"
    assert (out["status"], out["body_bytes_sent"], out["request_time"], out["time_iso8601"]) == (
        200, 5, 0.012, doc["time_iso8601"])
    assert out["host"] == "www.example.com"
    assert not leaked(text, canaries.FORBIDDEN)
    assert out["upstream"]["list"][1] == 3


def test_caddy_header_lists_stay_lists(tmp_path):
    doc = {"ts": 1764324000.5, "status": 200, "size": 10, "request": {
        "remote_ip": canaries.IPV4, "client_ip": canaries.IPV4, "method": "GET", "uri": f"/~{canaries.USER}",
        "proto": "HTTP/2.0", "host": "example.com",
        "headers": {"User-Agent": [canaries.UA_NORMAL], "Referer": ["https://news.ycombinator.com/item?id=1"],
                    "X-Real-Ip": [canaries.IPV4], f"X-{canaries.EMAIL}": ["1"], "Accept-Language": ["de-CH"]}}}
    text, _ = run(tmp_path, [json.dumps(doc)], "json")
    req = orjson.loads(text)["request"]
    assert req["remote_ip"] == req["client_ip"] == "198.51.100.0"
    assert req["uri"] == "/~{param}"
    assert req["headers"]["User-Agent"] == ["Firefox/128 (Windows 10; desktop)"]
    assert req["headers"]["Referer"] == ["https://ycombinator.com/"]
    assert list(req["headers"]) == ["User-Agent", "Referer", "X-Real-Ip", "[redacted]", "Accept-Language"]
    assert req["headers"]["Accept-Language"] == ["de-CH"]
    assert not leaked(text, canaries.FORBIDDEN)


def test_a_quote_backslash_or_newline_in_a_kept_field_cannot_break_the_line(tmp_path):
    ua = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 \\"x\\\\y\\x0a\\x1b[31m'
    line = f'192.0.2.1 - - [28/Nov/2026:10:00:01 +0000] "GET /a\\"b HTTP/1.1" 200 1 "-" "{ua}"'
    text, summary = run(tmp_path, [line], "combined", user_agent="keep")
    assert summary.written == 1 and text.count("\n") == 1 and "\x1b" not in text
    req = make_parser("combined")(text)
    assert req.user_agent == make_parser("combined")(line).user_agent  # the same value, escaped again
    assert req.target == '/a"b'


def test_quoted_is_the_inverse_of_the_parsers_unescaping():
    from logscrub.parsing.clf import text_field

    for value in ['plain', 'a"b', "back\\slash", "new\nline", "\x00\x1f\x7f", 'ünï"cödé\\']:
        assert text_field(quoted(value)) == value


# ---- unparsed lines, pseudonyms, nginx --------------------------------------------------------

def test_unparsed_lines_are_dropped_or_masked_and_counted(tmp_path):
    good = SAMPLE.read_text().splitlines()[0]
    lines = [good, "", "   ", f"{canaries.IPV4} not a log line {canaries.EMAIL}", "x" * 70_000, good]
    dropped, summary = run(tmp_path, lines, "combined")
    assert dropped.count("\n") == 2 and summary.written == 2
    assert summary.unparsed == {"empty": 2, "no_match": 1, "too_long": 1}
    assert "3 not parsed" not in summary.render() and "4 not parsed and dropped" in summary.render()
    masked, summary = run(tmp_path, lines, "combined", unparsed="mask")
    out = masked.split("\n")
    assert summary.written == 6 and out[3] == "[redacted] not a log line [redacted]"
    assert len(out[4]) <= 70_000 and not leaked(masked, canaries.FORBIDDEN)


def test_pseudonyms_link_one_day_of_one_run_only(tmp_path):
    line = '{ip} - - [{day}/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'
    lines = [line.format(ip=ip, day=day) for day in (28, 28, 29) for ip in (canaries.IPV4, "192.0.2.9")]
    env = {"LOGSCRUB_IP__MODE": "pseudonym"}
    first = [row.split(" ", 1)[0] for row in run(tmp_path, lines, "combined", env=env)[0].splitlines()]
    again = [row.split(" ", 1)[0] for row in run(tmp_path, lines, "combined", env=env)[0].splitlines()]
    assert first[0] == first[2] != first[1]  # one client, one day: one pseudonym
    assert first[4] != first[0]  # the next day: another key
    assert set(first).isdisjoint(again)  # another run: the keys were never stored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.log"]  # no key file anywhere


def test_nginx_log_format_is_refused_with_one_clear_reason():
    cfg = load(None, {"LOGSCRUB_INPUT__FORMAT": "nginx", "LOGSCRUB_INPUT__NGINX_LOG_FORMAT": "$remote_addr [$time_local]"})
    with pytest.raises(Refused, match="does not support input.format nginx.*escape=json"):
        Masker(cfg, "nginx")


def test_masker_never_raises_for_hostile_lines():
    masker = Masker(load(None, {}), "combined", unparsed="mask", user_agent="keep")
    rng = random.Random(3)
    alphabet = ' "[]\\-/:.%@?&=\x00\x0a\x1bé0123456789abcXYZ'
    for _ in range(3000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        out = masker.line(raw.encode("utf-8", "surrogatepass"))
        assert out is None or "\n" not in out


def test_lines_read_from_a_pipe_are_passed_on_per_read(tmp_path):
    """Every group of lines one read returned is written before the next read: from a pipe, a line is
    never held back while the writer is quiet (an Apache piped log)."""

    class Recorder(io.BytesIO):
        def __init__(self) -> None:
            super().__init__()
            self.flushes: list[int] = []

        def flush(self) -> None:
            self.flushes.append(len(self.getvalue()))

    src = tmp_path / "in.log"
    src.write_text(SAMPLE.read_text())
    out = Recorder()
    mask(load(None, {}), Inputs([str(src)]), out, flush=True, progress=False)
    # one flush per 64 KiB read (and one at the end), each after more output than the last
    grown = sorted(set(out.flushes))
    assert len(grown) >= src.stat().st_size // 65536 and out.flushes[: len(grown)] == grown


def test_long_hostile_unparsed_lines_are_masked_in_bounded_time():
    """Free text goes through regexes; none may backtrack quadratically on a 64 KiB line."""
    import time

    masker = Masker(load(None, {}), "combined", unparsed="mask")
    lines = ["x" * 65_000, "a.b" * 21_000, "1.2." * 16_000, ":" * 64_000, "ab:" * 21_000, "%40" * 21_000,
             "/" + "a/" * 32_000, "http://" + "a." * 32_000]
    started = time.perf_counter()
    for line in lines:
        assert masker.line(line.encode()) is not None
    assert time.perf_counter() - started < 2.0


def test_caches_stay_bounded_whatever_the_lines():
    """A piped log runs for months: no cache may keep long values, nor grow past its bound."""
    from logscrub.run import mask as module

    masker = Masker(load(None, {}), "combined", unparsed="mask", user_agent="keep")
    long_path = "/a" * 3000
    for i in range(200):
        line = (f'192.0.2.{i % 250} - - [28/Nov/2026:10:00:01 +0000] "GET {long_path}{i} HTTP/1.1" 200 1 '
                f'"https://example.com/{"r" * 3000}{i}" "Mozilla/5.0 Firefox/128.0 {"u" * 3000}{i}" {"t" * 3000}{i}')
        assert masker.line(line.encode()) is not None
    caches = [masker._targets, masker._requests, masker._referrer_texts, masker._agents, masker._texts]
    assert all(len(str(key)) <= module._MAX_CACHED + 50 for cache in caches for key in cache)
    for i in range(module._CACHE_MAX + 10):
        masker._target(f"/p/{i}")
    assert len(masker._targets) <= module._CACHE_MAX


def test_mask_opens_no_geoip_database(tmp_path):
    """Nothing mask writes comes from GeoIP: a configured database is not even opened."""
    not_a_db = tmp_path / "country.mmdb"
    not_a_db.write_text("not a MaxMind DB")
    text, summary = run(tmp_path, SAMPLE.read_text().splitlines()[:5], env={"LOGSCRUB_GEOIP__COUNTRY_DB": str(not_a_db)})
    assert summary.written == 5
