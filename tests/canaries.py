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
