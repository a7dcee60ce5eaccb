"""Properties of every parser: nothing but ParseError escapes, and rendered fields come back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logscrub.parsing.clf import parse_combined, parse_common, parse_common_alone, parse_vhost_combined
from logscrub.parsing.jsonlines import make_json_parser
from logscrub.parsing.nginx_format import compile_log_format
from logscrub.parsing.record import ParseError, Request
from logscrub.parsing.formats import REASONS, make_parser

MAIN = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" "$http_x_forwarded_for" $request_time'
)
JSON_TEMPLATE = (
    "log_format j escape=json '{\"t\":\"$time_iso8601\",\"a\":\"$remote_addr\",\"u\":\"$remote_user\","
    '"r":"$request","s":$status,"b":$body_bytes_sent,"ref":"$http_referer","ua":"$http_user_agent"}\';'
)
PARSERS = {
    "common": parse_common,
    "combined": parse_combined,
    "vhost_combined": parse_vhost_combined,
    "json": make_json_parser(),
    "nginx_main": compile_log_format(MAIN),
    "nginx_json": compile_log_format(JSON_TEMPLATE),
    "nginx_msec": compile_log_format("$msec $status $host$request_time $uri $args"),
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def check(parse, line: str) -> None:
    try:
        r = parse(line)
    except ParseError as e:
        assert e.reason in REASONS
        return
    assert isinstance(r, Request)
    assert r.time.utcoffset() is not None
    assert r.status is None or 100 <= r.status <= 599
    assert isinstance(r.bytes, int) and r.bytes >= 0


# ---- nothing but ParseError -----------------------------------------------------------------

any_text = st.text(st.characters(codec=None, exclude_categories=()))  # surrogates included
fragment = st.one_of(
    any_text,
    st.sampled_from(["-", "", '"', "\\", '\\"', "\\x", "\\xZZ", "\\u12", "[", "]", "200", "99999999999999999999"]),
    st.sampled_from(["10/Oct/2000:13:55:36 -0700", "31/Feb/2000:13:55:36 +9999", "2024-01-01T00:00:00Z"]),
    st.sampled_from(["GET / HTTP/1.1", "\x16\x03\x01", "1700000000.123", "1e999"]),
)


@pytest.mark.parametrize("name", PARSERS)
@given(line=any_text)
def test_arbitrary_text_raises_only_parse_error(name, line):
    check(PARSERS[name], line)


@pytest.mark.parametrize("name", PARSERS)
@given(data=st.binary())
def test_arbitrary_bytes_raise_only_parse_error(name, data):
    check(PARSERS[name], data.decode("utf-8", "replace"))


@pytest.mark.parametrize("name", PARSERS)
@given(parts=st.lists(fragment, min_size=9, max_size=12))
def test_format_shaped_garbage_raises_only_parse_error(name, parts):
    # Random text in the right skeleton gets past the regex and into every field reader.
    a, b, c, t, r, s, n, ref, ua, *rest = parts
    clf = f'{a} {b} {c} [{t}] "{r}" {s} {n} "{ref}" "{ua}"' + "".join(f" {x}" for x in rest)
    check(PARSERS[name], clf)
    check(PARSERS[name], "vhost:80 " + clf)
    json_line = '{"ts":%s,"request":{"remote_ip":"%s"},"status":%s,"time_iso8601":"%s","msec":"%s"}' % (a, b, s, t, n)
    check(PARSERS[name], json_line)


@given(parts=st.lists(fragment, min_size=9, max_size=12), cut=st.integers(0, 200))
def test_no_line_has_the_shape_of_two_formats_auto_reads(parts, cut):
    """auto tries the last line's format first: that is only safe because no line is accepted by two
    of its text formats, so the order of trying never changes an answer."""
    a, b, c, t, r, s, n, ref, ua, *rest = parts
    clf = f'{a} {b} {c} [{t}] "{r}" {s} {n} "{ref}" "{ua}"' + "".join(f" {x}" for x in rest)
    for line in (clf, "vhost:80 " + clf, clf[:cut], "vhost:80 " + clf[:cut]):
        accepted = []
        for parse in (parse_combined, parse_vhost_combined, parse_common_alone):
            try:
                accepted.append(parse(line))
            except ParseError:
                pass
        assert len(accepted) <= 1, line
        check(make_parser("auto"), line)


json_value = st.recursive(  # JSON text cannot carry lone surrogates: a decoded line never has them
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
json_keys = st.sampled_from(
    ["ts", "request", "status", "size", "duration", "Duration", "DownstreamStatus", "StartUTC", "msec", "time",
     "time_local", "time_iso8601", "remote_addr", "body_bytes_sent", "request_time", "http_user_agent", "host"]
)  # fmt: skip


@given(obj=st.dictionaries(json_keys, json_value, max_size=8))
def test_arbitrary_json_objects_raise_only_parse_error(obj):
    check(PARSERS["json"], orjson.dumps(obj).decode())


# ---- round trips --------------------------------------------------------------------------


def apache_escape(text: str) -> str:
    """What Apache writes for a header value: \\" \\\\ and \\xhh for anything not printable ASCII."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return "".join(out)


def nginx_escape(text: str) -> str:
    """What nginx escape=default writes: \\xHH for ", \\ and every byte outside printable ASCII."""
    return "".join(ch if " " <= ch <= "~" and ch not in '"\\' else bytes_escape(ch) for ch in text)


def bytes_escape(ch: str) -> str:
    return "".join(f"\\x{b:02X}" for b in ch.encode())


def clf_time(t: datetime) -> str:
    minutes = int(t.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    zone = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} {zone}"


def absent(value: str) -> str | None:
    return None if value in ("", "-") else value


text = st.text(st.characters(codec="utf-8"))  # what a UTF-8 decode can give: no surrogates
times = st.builds(
    lambda t, minutes: t.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1)).map(lambda t: t.replace(microsecond=0)),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
fields = st.fixed_dictionaries(
    {
        "client": st.one_of(st.just("-"), st.ip_addresses().map(str)),
        "user": st.text(st.characters(codec="utf-8", exclude_characters=" "), min_size=1),
        "time": times,
        "method": st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "M-SEARCH", "PROPFIND", "get"]),
        "target": text.map(lambda s: "/" + s),
        "protocol": st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3"]),
        "status": st.integers(100, 599),
        "bytes": st.integers(0, 10**18),
        "referrer": text,
        "user_agent": text,
    }
)


def assert_same(r: Request, f: dict) -> None:
    assert r.client == absent(f["client"])
    assert r.user == absent(f["user"])
    assert (r.time.replace(tzinfo=None), r.time.utcoffset()) == (f["time"].replace(tzinfo=None), f["time"].utcoffset())
    assert (r.method, r.target, r.protocol) == (f["method"], f["target"], f["protocol"])
    assert (r.status, r.bytes) == (f["status"], f["bytes"])
    assert (r.referrer, r.user_agent) == (absent(f["referrer"]), absent(f["user_agent"]))


def render_combined(f: dict, escape) -> str:
    return (
        f'{f["client"]} - {escape(f["user"])} [{clf_time(f["time"])}] '
        f'"{f["method"]} {escape(f["target"])} {f["protocol"]}" {f["status"]} {f["bytes"] or "-"} '
        f'"{escape(f["referrer"])}" "{escape(f["user_agent"])}"'
    )


@settings(max_examples=300)
@given(f=fields, escape=st.sampled_from([apache_escape, nginx_escape]))
def test_combined_round_trip(f, escape):
    line = render_combined(f, escape)
    assert_same(parse_combined(line), f)
    assert_same(PARSERS["nginx_main"](line + ' "-" 0.001'), f)
    r = parse_vhost_combined("www.example.com:443 " + line + "\r\n")
    assert_same(r, f)
    assert r.host == "www.example.com"
    common = parse_common(line)
    assert (common.status, common.bytes, common.target) == (f["status"], f["bytes"], f["target"])


def json_escape(value: str) -> str:
    return orjson.dumps(value).decode()[1:-1]


@given(f=fields)
def test_nginx_json_round_trip(f):
    t = f["time"].isoformat()
    request = f'{f["method"]} {f["target"]} {f["protocol"]}'
    line = (
        f'{{"t":"{t}","a":"{json_escape(f["client"])}","u":"{json_escape(f["user"])}","r":"{json_escape(request)}",'
        f'"s":{f["status"]},"b":{f["bytes"]},'
        f'"ref":"{json_escape(f["referrer"])}","ua":"{json_escape(f["user_agent"])}"}}'
    )
    assert_same(PARSERS["nginx_json"](line), f)
    same_fields = {"time": "t", "client": "a", "user": "u", "request": "r", "status": "s", "bytes": "b"}
    mapped = make_json_parser({**same_fields, "referrer": "ref", "user_agent": "ua"})
    assert_same(mapped(line), f)


@given(f=fields)
def test_caddy_round_trip(f):
    obj = {
        "ts": f["time"].timestamp(),
        "request": {
            "remote_ip": f["client"],
            "method": f["method"],
            "uri": f["target"],
            "proto": f["protocol"],
            "headers": {"User-Agent": [f["user_agent"]], "Referer": [f["referrer"]]},
        },
        "user_id": f["user"],
        "status": f["status"],
        "size": f["bytes"],
    }
    r = PARSERS["json"](orjson.dumps(obj).decode())
    assert r.time == f["time"]
    assert (r.method, r.target, r.protocol, r.status, r.bytes) == (
        f["method"], f["target"], f["protocol"], f["status"], f["bytes"]
    )  # fmt: skip
    assert (r.client, r.user, r.user_agent, r.referrer) == (
        absent(f["client"]), absent(f["user"]), absent(f["user_agent"]), absent(f["referrer"])
    )  # fmt: skip
