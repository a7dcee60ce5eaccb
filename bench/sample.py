"""Reproducible, realistic Apache/nginx combined logs for the demo, tests and benchmark.

Zipf-distributed clients (~15% IPv6), a few thousand distinct user agents,
ids and tokens in paths, query strings, search/social/internal referrers,
scanners, TLS garbage on port 80, and a few truncated lines, as real logs have.
Addresses come from the documentation and benchmarking ranges.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

_PAGES = [
    "/", "/", "/", "/index.html", "/about", "/pricing", "/blog/", "/blog/2026/11/kafka-retention-is-not-a-deadline",
    "/blog/2026/10/privacy-by-design", "/docs/getting-started", "/docs/config", "/docs/api/v2/events",
    "/products/{id}", "/products/{id}/reviews", "/users/{id}/orders", "/orders/{uuid}", "/search",
    "/cart", "/checkout", "/login", "/logout", "/account/settings", "/api/v2/items/{id}", "/api/v2/session/{token}",
    "/download/{hash}.tar.gz", "/static/css/site.css", "/static/js/app.js", "/favicon.ico", "/robots.txt",
    "/sitemap.xml", "/feed.xml", "/img/{id}.jpg", "/reset-password/{token}",
]
_PROBES = ["/wp-login.php", "/.env", "/phpmyadmin/index.php", "/admin/config.php", "/.git/config", "/cgi-bin/luci"]
_QUERIES = ["", "", "", "", "?page={n}", "?q=kafka+retention", "?utm_source=newsletter&utm_medium=email",
            "?sort=price&page={n}", "?session={token}", "?lang=de", "?ref=home"]
_REFERRERS = [
    "-", "-", "-", "https://www.google.com/", "https://www.google.de/", "https://www.bing.com/search?q=logscrub",
    "https://duckduckgo.com/", "https://t.co/{short}", "https://www.reddit.com/r/kafka/comments/{short}/",
    "https://news.ycombinator.com/item?id={n}", "https://www.linkedin.com/feed/", "https://example.com/blog/",
    "https://example.com/products/{id}", "https://github.com/logscrub/logscrub", "android-app://com.google.android.gm/",
]
_STATUS = [200] * 80 + [304] * 6 + [301, 302] * 2 + [404] * 4 + [403, 500, 502, 503, 206, 201]
_METHODS = ["GET"] * 90 + ["POST"] * 6 + ["HEAD"] * 3 + ["PUT"]


def _user_agents(rng: random.Random, n: int) -> list[str]:
    oses = [
        ("Windows NT 10.0; Win64; x64", "desktop"), ("Macintosh; Intel Mac OS X 10_15_7", "desktop"),
        ("X11; Linux x86_64", "desktop"), ("X11; Ubuntu; Linux x86_64", "desktop"),
        ("Linux; Android 14; Pixel 8", "mobile"), ("Linux; Android 13; SM-S911B", "mobile"),
        ("iPhone; CPU iPhone OS 17_{m} like Mac OS X", "mobile"), ("iPad; CPU OS 17_{m} like Mac OS X", "tablet"),
    ]
    bots = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "curl/8.{m}.0", "python-requests/2.3{m}.0", "Go-http-client/1.1", "Wget/1.21.{m}",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    ]
    out: set[str] = set()
    while len(out) < n:
        if rng.random() < 0.08:
            out.add(rng.choice(bots).replace("{m}", str(rng.randint(0, 9))))
            continue
        os_, _ = rng.choice(oses)
        os_ = os_.replace("{m}", str(rng.randint(0, 6)))
        kind = rng.random()
        if kind < 0.55:
            v = rng.randint(110, 131)
            mobile = " Mobile" if "Android" in os_ or "iPhone" in os_ else ""
            ua = f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{rng.randint(1000, 6999)}.{rng.randint(10, 200)}{mobile} Safari/537.36"
        elif kind < 0.75:
            v = rng.randint(115, 133)
            ua = f"Mozilla/5.0 ({os_}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
        elif kind < 0.92:
            v = rng.randint(15, 18)
            ua = f"Mozilla/5.0 ({os_}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.{rng.randint(0, 6)} Mobile/15E148 Safari/604.1"
        else:
            v = rng.randint(110, 131)
            ua = f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.{rng.randint(1000, 2999)}.{rng.randint(10, 99)}"
        out.add(ua)
    return sorted(out)


def _clients(rng: random.Random, n: int, ipv6_share: float) -> list[str]:
    out = []
    for _ in range(n):
        if rng.random() < ipv6_share:
            out.append(f"2001:db8:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}::{rng.randrange(1 << 16):x}")
        else:
            net = rng.choice(("198.51.100", "203.0.113", "192.0.2", f"198.18.{rng.randrange(256)}", f"198.19.{rng.randrange(256)}"))
            out.append(f"{net}.{rng.randrange(1, 255)}")
    return out


def generate(lines: int, seed: int = 42, clients: int = 50_000, user_agents: int = 2_000,
             start: datetime | None = None, ipv6_share: float = 0.15) -> list[str]:
    """``lines`` combined-format lines, the same for the same arguments."""
    rng = random.Random(seed)
    uas = _user_agents(rng, user_agents)
    ips = _clients(rng, clients, ipv6_share)
    weights = [1 / (i + 1) for i in range(len(ips))]  # Zipf: a few heavy clients, a long tail
    picks = rng.choices(range(len(ips)), weights=weights, k=lines)
    t = start or datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    step = timedelta(seconds=0.4)  # ~150 requests a minute: enough visitors per window to pass k
    out = []
    for i, c in enumerate(picks):
        t += step
        stamp = f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"
        ua = uas[(c * 7919) % len(uas)] if rng.random() < 0.9 else rng.choice(uas)
        r = rng.random()
        if r < 0.0005:
            out.append(f'{ips[c]} - - [{stamp}] "GET /index.html HTTP/1.1" 200')  # truncated line
            continue
        if r < 0.002:
            out.append(f'{ips[c]} - - [{stamp}] "\\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\x00" 400 157 "-" "-"')
            continue
        if r < 0.01:
            path = rng.choice(_PROBES)
            out.append(f'{ips[c]} - - [{stamp}] "GET {path} HTTP/1.1" 404 153 "-" "{ua}"')
            continue
        page = rng.choice(_PAGES) + rng.choice(_QUERIES)
        page = (page.replace("{id}", str(rng.randint(1, 99999)))
                .replace("{uuid}", f"{rng.getrandbits(128):032x}")
                .replace("{hash}", f"{rng.getrandbits(160):040x}")
                .replace("{token}", f"{rng.getrandbits(128):x}ZkQ")
                .replace("{n}", str(rng.randint(1, 20))))
        ref = (rng.choice(_REFERRERS).replace("{short}", f"{rng.getrandbits(40):x}")
               .replace("{id}", str(rng.randint(1, 99999))).replace("{n}", str(rng.randint(1, 99999999))))
        status = rng.choice(_STATUS)
        size = 0 if status == 304 else rng.randint(200, 250_000)
        user = "-" if rng.random() > 0.01 else "admin"
        out.append(f'{ips[c]} - {user} [{stamp}] "{rng.choice(_METHODS)} {page} HTTP/1.1" {status} {size} "{ref}" "{ua}"')
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write a reproducible synthetic combined access log to stdout.")
    p.add_argument("--lines", type=int, default=5000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--clients", type=int, default=2000)
    p.add_argument("--user-agents", type=int, default=400)
    a = p.parse_args(argv)
    out = sys.stdout
    for line in generate(a.lines, a.seed, a.clients, a.user_agents):
        out.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
