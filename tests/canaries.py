"""Lines carrying personal data in every field, and the values that must never reach analytics."""

IPV4 = "198.51.100.77"
IPV4_XFF = "192.0.2.201"
IPV6 = "2001:db8:abcd:12:3456:789a:bcde:f012"
EMAIL = "alice.canary@example.org"
EMAIL_ENC = "alice.canary%40example.org"
TOKEN = "tok9f8e7d6c5b4a39281706f5e4d3c2b1a0"
UUID = "3f2b8c1e-9d4a-4e6b-8f7c-2a1b0c9d8e7f"
USER = "jdoecanary"
PASSWORD = "hunter2canary"

# What must not appear in any byte of analytics output (also checked case-insensitively).
FORBIDDEN = [IPV4, IPV4_XFF, IPV6, "2001:db8:abcd:12:", "3456:789a", EMAIL, "alice.canary", "alice%2ecanary",
             TOKEN, UUID, USER, PASSWORD, "9f8e7d6c5b4a3928"]

T = "28/Nov/2026:10:00:{s:02d} +0000"
UA_CANARY = f"Mozilla/5.0 (compatible; {USER}-bot/1.0; +mailto:{EMAIL}) {TOKEN}"
UA_NORMAL = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def combined_lines() -> list[str]:
    t = T.format
    return [
        f'{IPV4} - {USER} [{t(s=1)}] "GET /users/{USER}/profile?email={EMAIL_ENC}&token={TOKEN} HTTP/1.1" 200 512 '
        f'"https://mail.example.org/inbox?to={EMAIL}&sid={TOKEN}" "{UA_CANARY}"',
        f'{IPV6} - - [{t(s=2)}] "GET /orders/{UUID}/invoice/{EMAIL} HTTP/2.0" 200 100 "-" "{UA_NORMAL}"',
        f'[{IPV6}]:51234 - - [{t(s=3)}] "POST /api/session/{TOKEN} HTTP/1.1" 201 10 '
        f'"https://{USER}:{PASSWORD}@partner.example.net/{UUID}" "{UA_NORMAL}"',
        f'{IPV4}:4431 - {EMAIL} [{t(s=4)}] "GET http://{USER}:{PASSWORD}@www.example.com/~{USER}/{EMAIL_ENC}?q={USER} HTTP/1.1" '
        f'302 0 "-" "{UA_NORMAL} {EMAIL}"',
        f'::ffff:{IPV4} - - [{t(s=5)}] "GET /reset/{TOKEN}?u={UUID} HTTP/1.1" 404 0 "android-app://{USER}.app/" "-"',
        f'{IPV4} - - [{t(s=6)}] "GET /search?q={EMAIL}&page=2 HTTP/1.1" 200 7 "http://{IPV4}/{USER}" "{USER}"',
        f'{IPV4} - - [{t(s=7)}] "\\x16\\x03\\x01{USER}" 400 0 "-" "-"',
        f'{IPV4} - - [not a time {EMAIL}] "GET / HTTP/1.1" 200 1 "-" "-"',  # rejected
        f'garbage {IPV6} {EMAIL} {TOKEN}',  # rejected
    ]


def json_lines() -> list[str]:
    import json

    return [
        json.dumps({
            "remote_addr": IPV4, "remote_user": USER, "time_iso8601": "2026-11-28T10:00:08+00:00",
            "request": f"GET /u/{USER}?token={TOKEN} HTTP/1.1", "status": "200", "body_bytes_sent": "5",
            "http_referer": f"https://www.google.com/search?q={EMAIL}", "http_user_agent": UA_CANARY,
            "http_x_forwarded_for": f"{IPV4_XFF}, {IPV4}", "host": "www.example.com",
        }),
        json.dumps({"remote_addr": IPV6, "time_iso8601": "broken", "request": f"GET /{EMAIL}"}),  # rejected
    ]


# --- Generated variants of every class (issue 12) -----------------------------------------------
# Seeded, so a failure names a reproducible value. None of these values, nor any word they are built
# from, appears in the code's own lists: names are random syllables, tokens and numbers random draws.

import random
import string

B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
B32 = "abcdefghijklmnopqrstuvwxyz234567"
_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"
TLDS = ["com", "org", "net", "de", "fr", "co.uk", "io", "nl", "com.au"]


def _syllables(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) + rng.choice(["", "", "n", "r", "l"])
                   for _ in range(rng.randint(low, high)))


def names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(segment, the given name in it): user names as sites spell them (mirato.velunski, MVelunski...)."""
    out = []
    for _ in range(n):
        first, last = _syllables(rng, 2, 3), _syllables(rng, 2, 4)
        form = rng.choice([f"{first}.{last}", f"{first}-{last}", f"{first}_{last}", f"{first[0]}{last}",
                           f"{first.title()}{last.title()}", f"{first}{last}", first, f"{first}{rng.randint(1, 99)}"])
        out.append((form, first if form.lower().startswith(first) else last))
    return out


def tokens(rng: random.Random, n: int, low: int = 24, high: int = 64, alphabet: str = B62) -> list[str]:
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(low, high))) for _ in range(n)]


def short_tokens(rng: random.Random, n: int) -> list[str]:
    """8-15 characters shaped like the issue's Zx8kQp2mWv and aB3dE9xQ: case or digit changes every one
    or two characters. (Uniformly random short tokens can spell words: their measured detection rates
    are pinned in test_url_classes.py.)"""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    out = []
    for _ in range(n):
        token, last = "", -1
        while len(token) < rng.randint(8, 15):
            kind = rng.choice([k for k in range(3) if k != last])
            token += "".join(rng.choice(classes[kind]) for _ in range(rng.choice((1, 1, 2))))
            last = kind
        out.append(token)
    return out


def base32_tokens(rng: random.Random, n: int) -> list[str]:
    """All-lowercase base32 (TOTP secrets, onion names, ULIDs): 26 characters and more."""
    return ["".join(rng.choice(B32) for _ in range(rng.choice([26, 32, 52, 56]))) for _ in range(n)]


def secrets(rng: random.Random, n: int) -> list[str]:
    """Credentials with their vendor prefix: the prefix says what they are whatever the body."""
    prefixes = ["sk_live_", "sk_test_", "pk_live_", "rk_live_", "whsec_", "ghp_", "gho_", "github_pat_", "glpat-",
                "xoxb-", "xoxp-", "xapp-", "AKIA", "ASIA", "AIza", "ya29.", "sk-proj-", "SG.", "shpat_", "npm_",
                "pypi-", "hf_"]
    out = []
    for _ in range(n):
        prefix = rng.choice(prefixes)
        alphabet = string.ascii_uppercase + string.digits if prefix in ("AKIA", "ASIA") else B62
        if prefix == "shpat_":
            alphabet = "0123456789abcdef"
        out.append(prefix + "".join(rng.choice(alphabet) for _ in range(rng.randint(32, 40))))
    return out


def emails(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(segment as logged, the local part): plain, encoded, and the spellings that dodge scrapers."""
    out = []
    for _ in range(n):
        local = rng.choice([_syllables(rng, 2, 3), f"{_syllables(rng, 2, 2)}.{_syllables(rng, 2, 3)}",
                            f"{_syllables(rng, 2, 3)}{rng.randint(1, 99)}"])
        domain, tld = _syllables(rng, 2, 3), rng.choice(TLDS)
        at = rng.choice(["@", "%40", "%2540", "(at)", "[at]", "{at}", "<at>", "%20at%20", "-at-", "_at_",
                         "%20(at)%20", "%EF%BC%A0", "＠", "%20%5Bat%5D%20", ".at.", "+at+", "(a)", "[a]",
                         "%20(a)%20"])
        dot = rng.choice([".", ".", "%20dot%20", "(dot)", "[dot]", "-dot-"]) if at not in ("@", "%40") else "."
        out.append((f"{local}{at}{domain}{dot}{tld.replace('.', dot)}", local))
    return out


def phones(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(segment, its digits): local and international formats, spaced, dotted, dashed, bracketed; North
    American numbers dotted too (415.555.0172), the shape of a version number."""
    out = []
    for _ in range(n):
        digits = [str(rng.randint(0, 9)) for _ in range(9)]
        kind = rng.randrange(9)
        if kind == 0:  # French mobile, dotted/spaced/dashed
            number = "0" + rng.choice("67") + "".join(digits[:8])
            sep = rng.choice([".", "%20", "-", ""])
            text = sep.join(number[i:i + 2] for i in range(0, 10, 2))
        elif kind == 1:
            number = "33" + rng.choice("67") + "".join(digits[:8])
            text = "+33%20" + number[2] + "%20" + "%20".join(number[i:i + 2] for i in range(3, 11, 2))
        elif kind == 2:  # North American
            number = "".join(digits[:3]) + "".join(digits[3:6]) + "".join(digits[6:9]) + str(rng.randint(0, 9))
            text = f"({number[:3]})%20{number[3:6]}-{number[6:]}"
        elif kind == 3:
            number = "1" + "".join(digits[:9]) + str(rng.randint(0, 9))
            text = f"+1-{number[1:4]}-{number[4:7]}-{number[7:]}"
        elif kind == 4:  # German, UK
            number = "49" + "".join(digits[:9]) + str(rng.randint(0, 9))
            text = f"+49%20{number[2:5]}%20{number[5:]}"
        elif kind == 5:
            number = "07" + "".join(digits[:9])
            text = f"{number[:5]}%20{number[5:]}"
        elif kind in (7, 8):  # North American, 3.3.4 digits, with or without its country code
            number = str(rng.randint(2, 9)) + "".join(digits)
            sep = "." if kind == 7 else rng.choice(["-", "%20"])
            prefix = rng.choice(["", "", "1" + sep, "+1" + sep])
            text = prefix + sep.join((number[:3], number[3:6], number[6:]))
        else:
            number = "0" + "".join(digits[:9])
            text = "tel:" + "-".join(number[i:i + 2] for i in range(0, 10, 2))
        out.append((text, number))
    return out


_MONTH_NAMES = ["jan", "Feb", "march", "Apr", "may", "June", "jul", "aug", "Sept", "oct", "November", "dec"]


def birth_dates(rng: random.Random, n: int) -> list[str]:
    """Full dates in one segment, any common order and separator, with the year in four digits or two
    (a year or year-month alone is kept)."""
    out = []
    for _ in range(n):
        y, m, d = rng.randint(1930, 2015), rng.randint(1, 12), rng.randint(1, 28)
        yy, mon = f"{y % 100:02d}", _MONTH_NAMES[m - 1]
        sep = rng.choice(["-", ".", "_", "%20"])
        out.append(rng.choice([
            f"{y}{sep}{m:02d}{sep}{d:02d}", f"{d:02d}{sep}{m:02d}{sep}{y}", f"{m:02d}{sep}{d:02d}{sep}{y}",
            f"{d}{sep}{m}{sep}{y}", f"{d}{sep}{_MONTH_NAMES[m - 1]}{sep}{y}", f"{_MONTH_NAMES[m - 1]}{sep}{d}{sep}{y}",
            f"{d:02d}{_MONTH_NAMES[m - 1]}{y}", f"{y}{sep}{_MONTH_NAMES[m - 1]}{sep}{d:02d}", f"{d:02d}.{m:02d}.{y % 100:02d}",
            f"born-{y}-{m:02d}-{d:02d}", f"{d}.{m}.{yy}", f"{d}{sep}{m}{sep}{yy}", f"{m}-{d}-{yy}", f"{d}{mon}{yy}",
            f"{d}{sep}{mon}{sep}{yy}", f"{mon}{sep}{d}{sep}{yy}",
        ]))
    return out


def macs(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(segment, its 12 hex digits): colon, dash and Cisco dot forms, either case."""
    out = []
    for _ in range(n):
        octets = [rng.randrange(256) for _ in range(6)]
        hexes = "".join(f"{o:02x}" for o in octets)
        text = rng.choice([":".join(f"{o:02x}" for o in octets), "-".join(f"{o:02X}" for o in octets),
                           ".".join(hexes[i:i + 4] for i in range(0, 12, 4)), "%3A".join(f"{o:02x}" for o in octets)])
        out.append((text, hexes))
    return out


def coordinates(rng: random.Random, n: int) -> list[tuple[str, list[str]]]:
    """(segment, the numbers in it): lat,lng as maps, apps and APIs put them in paths."""
    out = []
    for _ in range(n):
        places = rng.randint(2, 7)
        lat, lng = f"{rng.uniform(-89, 89):.{places}f}", f"{rng.uniform(-179, 179):.{places}f}"
        text = rng.choice([f"{lat},{lng}", f"@{lat},{lng},{rng.randint(3, 20)}z", f"{lat};{lng}", f"{lat}%2C{lng}",
                           f"{lat}%3B{lng}", f"{lat},%20{lng}"])
        out.append((text, [lat, lng]))
    return out


def split_coordinates(rng: random.Random, n: int) -> list[tuple[str, list[str], str]]:
    """(path part, the numbers in it, its template): a latitude and longitude in segments of their own."""
    out = []
    for _ in range(n):
        places = rng.randint(3, 7)
        lat, lng = f"{rng.uniform(-89, 89):.{places}f}", f"{rng.uniform(-179, 179):.{places}f}"
        path, template = rng.choice([
            (f"{lat}/{lng}", "{geo}/{geo}"), (f"{lng}/{lat}", "{geo}/{geo}"), (f"{lat}%2F{lng}", "{geo}/{geo}"),
            (f"lat/{lat}/lng/{lng}", "lat/{geo}/lng/{geo}"), (f"{lat}/{lng}/{rng.randint(3, 20)}", "{geo}/{geo}/{id}"),
        ])
        out.append((path, [lat, lng], template))
    return out


def embedded_ipv4_clients(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(IPv6 as logged, the IPv4 it carries): 6to4, Teredo, NAT64, ISATAP, IPv4-compatible."""
    import ipaddress

    out = []
    for _ in range(n):
        v4 = rng.randint(1 << 24, (1 << 32) - 1) & ~0xFF | rng.randint(1, 254)
        rest = rng.getrandbits(80)
        kind = rng.randrange(6)
        if kind == 0:
            v6 = 0x2002 << 112 | v4 << 80 | rest
        elif kind == 1:
            v6 = 0x2001_0000 << 96 | (rest % (1 << 64)) << 32 | (~v4 & 0xFFFF_FFFF)
        elif kind == 2:
            v6 = 0x0064_FF9B << 96 | v4
        elif kind == 3:
            v6 = 0x0064_FF9B_0001 << 80 | (rest % (1 << 48)) << 32 | v4
        elif kind == 4:
            v6 = (0x2001_0DB8 << 32 | rest % (1 << 32)) << 64 | 0x0200_5EFE << 32 | v4
        else:
            v6 = v4
        out.append((str(ipaddress.IPv6Address(v6)), str(ipaddress.IPv4Address(v4))))
    return out


def class_lines(seed: int = 12) -> tuple[list[str], list[str], list[str]]:
    """(lines, forbidden strings, path templates): every class above in combined-format lines.

    Each personal path is requested by six distinct clients, more than the default k of 5, so what
    keeps it off the analytics is its template and nothing else. Forbidden strings are 7 characters
    or more, so that none turns up in the output by chance (the sketches are base64).
    """
    import ipaddress

    rng = random.Random(seed)
    lines: list[str] = []
    forbidden: list[str] = []
    templates: list[str] = []
    second = iter(range(10_000))

    def line(client: str, path: str, referrer: str = "-") -> str:
        s = next(second) % 60
        return (f'{client} - - [28/Nov/2026:10:00:{s:02d} +0000] "GET {path} HTTP/1.1" 200 512 '
                f'"{referrer}" "{UA_NORMAL}"')

    def shared(path: str, template: str, *secrets: str) -> None:
        clients = [f"203.0.113.{rng.randint(1, 254)}" for _ in range(30)]
        for client in list(dict.fromkeys(clients))[:6]:
            lines.append(line(client, path))
        templates.append(template)
        forbidden.extend(s for s in secrets if len(s) >= 7)

    for segment, name in names(rng, 40):
        if len(name) >= 7:
            form, template = rng.choice([
                ("/en/Users/{}/settings", "/en/Users/{{param}}/settings"), ("/api/v1/users/{}", "/api/v1/users/{{param}}"),
                ("/users%2F{}", "/users/{{param}}"), ("/./members/{}", "/members/{{param}}"),
                ("/x/%2e%2e/people/{}", "/people/{{param}}"), ("/USERS/{}", "/USERS/{{param}}"),
            ])
            shared(form.format(segment), template.format(), segment, name)
    for token in ["Zx8kQp2mWv", "aB3dE9xQ"] + tokens(rng, 3, 24, 48) + tokens(rng, 2, 24, 48, B64URL):
        shared(f"/reset/{token}", "/reset/{token}", token)
    for token in base32_tokens(rng, 3):
        shared(f"/totp/{token}/verify", "/totp/{token}/verify", token)
    for secret in secrets(rng, 5):
        shared(f"/hooks/{secret}", "/hooks/{token}", secret, secret[-20:])
    for sid in tokens(rng, 2, 24, 32, "0123456789ABCDEF"):
        shared(f"/cart%3Bjsessionid%3D{sid}/checkout", "/cart/checkout", sid)
    for segment, local in emails(rng, 10):
        shared(f"/unsubscribe/{segment}", "/unsubscribe/{email}", local, segment)
    for segment, digits in phones(rng, 6):
        shared(f"/call/{segment}", "/call/{phone}", digits, segment.replace("%20", " "))
    for date in birth_dates(rng, 6):
        shared(f"/patients/dob/{date}", "/patients/dob/{date}", date, date.replace("%20", " "))
    for segment, hexes in macs(rng, 4):
        shared(f"/devices/{segment}/status", "/devices/{mac}/status", hexes, segment)
    for segment, numbers in coordinates(rng, 4):
        placeholder = "{geo}"
        shared(f"/maps/place/{segment}/data", f"/maps/place/{placeholder}/data", *numbers)
    for path, numbers, template in split_coordinates(rng, 4):
        shared(f"/weather/{path}", f"/weather/{template}", *numbers)
    # Clients whose IPv6 address carries an IPv4 address, and referrers from private host names.
    for v6, v4 in embedded_ipv4_clients(rng, 12):
        lines.append(line(v6, "/pricing"))
        lines.append(line(f"[{v6}]:51000", "/pricing"))
        network = ipaddress.ip_network(f"{v6}/48", strict=False)
        forbidden.extend(s for s in (v4, v6, str(network.network_address).rstrip(":")) if len(s) >= 7)
    for i in range(12):
        host = f"{_syllables(rng, 3, 4)}-{rng.choice(['macbook', 'laptop', 'nas', 'desktop'])}"
        suffix = rng.choice(["local", "lan", "internal", "home.arpa", "localhost", "corp", ""])
        full = f"{host}.{suffix}" if suffix else host
        lines.append(line(f"192.0.2.{i + 1}", "/", f"http://{full}:8080/private/{_syllables(rng, 4, 5)}"))
        forbidden.extend(s for s in (full, host) if len(s) >= 7)
    return lines, forbidden, templates

