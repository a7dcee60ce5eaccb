"""Referrer URL -> registrable domain and a traffic class.

A referrer's path and query can hold search terms, emails and session
tokens, its userinfo credentials, and its subdomain a user name
(``jdoe.github.io``). Only the registrable domain under the ICANN section of
the Public Suffix List is published: the list's private section would make
``jdoe.github.io`` itself registrable. A host under no ICANN suffix (a
single label, ``.local``, ``.lan``, ``.internal``, ``.home.arpa``, any unknown
TLD) is a device or private network name (``alices-macbook.local``): it gives
no domain, and its class is ``other`` (``internal`` if configured as such).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

NONE, INTERNAL, SEARCH, SOCIAL, OTHER = "none", "internal", "search", "social", "other"

_CACHE_SIZE = 50_000
_MAX_CACHED_REFERRER = 2048  # longer ones are rare and would bloat the cache: computed each time
_MAX_HOST_LENGTH = 253

# accept_unknown=False: an unlisted TLD is not a public suffix (the library's default treats it as one,
# which made "alices-macbook.local" registrable).
_PSL = PublicSuffixList(only_icann=True, accept_unknown=False)
# .arpa is listed, but only names infrastructure and home networks (RFC 8375 home.arpa) and reverse
# DNS names, which spell out addresses: nothing under it is a site.
_NOT_SITES = frozenset({"arpa"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_AUTHORITY_END = re.compile(r"[/?#\\]")  # browsers read '\' as '/' in http URLs
_LABEL = re.compile(r"[a-z0-9-]{1,63}")
# An http(s) URL whose authority is a bare host name: its class and domain depend on that host only,
# so referrers that differ in path or query (most of them) share one cache entry.
_PLAIN_HTTP = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]{1,253})(?:[/?#\\]|\Z)")

# Matched on the registrable domain's first label, so every country domain counts (google.co.uk).
_SEARCH_BRANDS = frozenset({
    "aol", "baidu", "bing", "brave", "daum", "duckduckgo", "ecosia", "google", "kagi", "mojeek",
    "naver", "qwant", "seznam", "sogou", "startpage", "yahoo", "yandex",
})
_SEARCH_DOMAINS = frozenset({"so.com", "sm.cn", "ya.ru"})
_SOCIAL_BRANDS = frozenset({
    "bsky", "discord", "facebook", "instagram", "linkedin", "mastodon", "messenger", "pinterest",
    "quora", "reddit", "snapchat", "telegram", "threads", "tiktok", "tumblr", "twitter", "vk",
    "vkontakte", "weibo", "whatsapp", "xing", "youtube",
})
_SOCIAL_DOMAINS = frozenset({
    "fb.com", "fb.me", "line.me", "lnkd.in", "m.me", "ok.ru", "pin.it", "redd.it", "t.co", "t.me",
    "wa.me", "x.com", "youtu.be",
})
# android-app://<package>/...: the referrer Android sends for traffic from an app.
_ANDROID_APPS = {
    "com.google.android.googlequicksearchbox": ("google.com", SEARCH),
    "com.microsoft.bing": ("bing.com", SEARCH),
    "com.duckduckgo.mobile.android": ("duckduckgo.com", SEARCH),
    "ru.yandex.searchplugin": ("yandex.ru", SEARCH),
    "com.facebook.katana": ("facebook.com", SOCIAL),
    "com.facebook.orca": ("messenger.com", SOCIAL),
    "com.instagram.android": ("instagram.com", SOCIAL),
    "com.twitter.android": ("x.com", SOCIAL),
    "com.linkedin.android": ("linkedin.com", SOCIAL),
    "com.reddit.frontpage": ("reddit.com", SOCIAL),
    "com.pinterest": ("pinterest.com", SOCIAL),
    "com.google.android.youtube": ("youtube.com", SOCIAL),
    "com.zhiliaoapp.musically": ("tiktok.com", SOCIAL),
    "com.whatsapp": ("whatsapp.com", SOCIAL),
    "org.telegram.messenger": ("telegram.org", SOCIAL),
}


def clean_hostname(text: str | None) -> str | None:
    """The DNS name in a host, authority or URL; None for IP addresses and anything else."""
    if not text:
        return None
    host = text.strip()
    if (scheme := _SCHEME.match(host)) and host.startswith("//", scheme.end()):
        host = host[scheme.end() + 2:]
    host = _AUTHORITY_END.split(host, maxsplit=1)[0].rpartition("@")[2]
    name, colon, port = host.rpartition(":")
    if colon:
        if port and not port.isdigit():
            return None
        host = name
    host = host.lower().removesuffix(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = host.split(".")
    if (
        len(host) > _MAX_HOST_LENGTH
        or not all(_LABEL.fullmatch(label) for label in labels)
        or (len(labels) == 1 and host != "localhost")
        or labels[-1].isdigit()  # IPv4 address; no TLD is numeric
    ):
        return None
    return host


@lru_cache(maxsize=_CACHE_SIZE)
def registrable_domain(host: str | None) -> str | None:
    """eTLD+1 of ``host`` ("www.google.co.uk" -> "google.co.uk").

    None for addresses, bare suffixes and names under no ICANN suffix (private names).
    """
    clean = clean_hostname(host)
    if clean is None or clean.rpartition(".")[2] in _NOT_SITES:
        return None
    return _PSL.privatesuffix(clean)


def _public_class(domain: str) -> str:
    brand = domain.split(".", 1)[0]
    if brand in _SEARCH_BRANDS or domain in _SEARCH_DOMAINS:
        return SEARCH
    if brand in _SOCIAL_BRANDS or domain in _SOCIAL_DOMAINS:
        return SOCIAL
    return OTHER


class ReferrerGeneralizer:
    """Callable ``(referrer, site host) -> (registrable domain or None, class)``, cached."""

    def __init__(self, internal_domains: Iterable[str] = ()) -> None:
        internal = []
        for domain in internal_domains:
            host = clean_hostname(domain)
            if host is None:
                raise ValueError(f"internal domain {domain!r} is not a valid DNS name")
            internal.append(host)
        self._internal = tuple(internal)
        self._cached = lru_cache(maxsize=_CACHE_SIZE)(self._generalize_any)
        self._by_host = lru_cache(maxsize=_CACHE_SIZE)(self._generalize_host)

    def __call__(self, referrer: str | None, site: str | None) -> tuple[str | None, str]:
        if referrer is not None and len(referrer) > _MAX_CACHED_REFERRER:
            return self._generalize_any(referrer, site)
        return self._cached(referrer, site)

    def _generalize_any(self, referrer: str | None, site: str | None) -> tuple[str | None, str]:
        plain = _PLAIN_HTTP.match(referrer) if referrer else None
        if plain is not None:
            return self._by_host(plain.group(1), site)
        return self._generalize(referrer, site)

    def _generalize_host(self, host: str, site: str | None) -> tuple[str | None, str]:
        return self._generalize("http://" + host, site)

    def _generalize(self, referrer: str | None, site: str | None) -> tuple[str | None, str]:
        text = referrer.strip() if referrer else ""
        if text in ("", "-"):
            return None, NONE
        scheme = _SCHEME.match(text)
        if scheme is None:
            return None, OTHER
        name = scheme.group(1).lower()
        rest = text[scheme.end():]
        if name == "android-app":
            return _ANDROID_APPS.get(_AUTHORITY_END.split(rest.lstrip("/"), maxsplit=1)[0].lower(), (None, OTHER))
        if name not in ("http", "https") or not rest.startswith("//"):
            return None, OTHER
        host = clean_hostname(rest[2:])
        if host is None:
            return None, OTHER
        domain = registrable_domain(host)
        if domain is None:  # a private name: never published, but the operator's own hosts stay internal
            return None, INTERNAL if self._is_configured_internal(host) else OTHER
        if self._is_internal(host, domain, site):
            return domain, INTERNAL
        return domain, _public_class(domain)

    def _is_internal(self, host: str, domain: str, site: str | None) -> bool:
        if self._is_configured_internal(host):
            return True
        return site is not None and registrable_domain(site) == domain

    def _is_configured_internal(self, host: str) -> bool:
        return any(host == internal or host.endswith("." + internal) for internal in self._internal)
