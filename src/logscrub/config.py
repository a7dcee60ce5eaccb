"""One YAML file, environment overrides, validated before anything runs.

Every setting has a default here; a typo'd key, a wrong type or a value that
would weaken a privacy guarantee fails at start-up with the dotted key named.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from logscrub.parsing.formats import INPUT_FORMATS

ENV_PREFIX = "LOGSCRUB_"
MASK = "********"  # what `config show` prints for a secret
IP_MODES = ("truncate", "pseudonym", "drop")
EVENT_CLIENT = ("none", "network", "pseudonym")
DIMENSIONS = ("path", "country", "browser", "os", "device", "referrer")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting that cannot be used; ``key`` is its dotted path."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config: {key}: {problem}")
        self.key = key
        self.problem = problem


# Setting names that hold credentials (sasl_password, ssl_key_password, api_key, ...); matched on
# the name, so keys.visitor_rotation, which is not a secret, stays visible.
SECRET_NAME = re.compile(r"password|passwd|secret|token|credential|(^|_)key$")


class _EnvText(str):
    """A value from a LOGSCRUB_* variable: read as YAML, except for a string setting, which takes
    it verbatim (a password of 0123 must not become the number 83)."""


def _shown(key: str, value: Any) -> str:
    """A value for an error message; never the value of a secret."""
    return "(hidden)" if SECRET_NAME.search(key.rsplit(".", 1)[-1].lower()) else repr(value)


class Duration(int):
    """Seconds; written in YAML as 90, "90s", "15m", "6h" or "7d"."""


_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any, key: str) -> Duration:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like 90s, 15m, 6h or 7d, got {value!r}")
    if isinstance(value, int):
        return Duration(value)
    m = _DURATION.match(str(value))
    if not m or m.group(2) == "ms":
        raise ConfigError(key, f"expected a duration like 90s, 15m, 6h or 7d, got {value!r}")
    return Duration(int(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class InputConfig:
    format: str = "auto"
    nginx_log_format: str | None = None
    json_fields: dict[str, str] = field(default_factory=dict)
    site: str = "default"
    sites: tuple[str, ...] = ()  # the operator's own host names (``*.example.com`` for any under it)
    max_line_bytes: int = 65536

    def validate(self, key: str) -> None:
        _choice(self.format, INPUT_FORMATS, f"{key}.format")
        for i, site in enumerate(self.sites):
            if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", site):
                raise ConfigError(f"{key}.sites[{i}]", f"expected a host name or *.domain, got {site!r}")
        if self.format == "nginx" and not self.nginx_log_format:
            raise ConfigError(f"{key}.nginx_log_format", "required when input.format is nginx")
        _at_least(self.max_line_bytes, 256, f"{key}.max_line_bytes")


@dataclass(frozen=True)
class IPConfig:
    mode: str = "truncate"
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    trusted_proxies: tuple[str, ...] = ()

    def validate(self, key: str) -> None:
        import ipaddress

        _choice(self.mode, IP_MODES, f"{key}.mode")
        # Longer prefixes keep enough of an address to single out a household.
        _between(self.ipv4_prefix, 0, 24, f"{key}.ipv4_prefix")
        _between(self.ipv6_prefix, 0, 64, f"{key}.ipv6_prefix")
        for i, cidr in enumerate(self.trusted_proxies):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(f"{key}.trusted_proxies[{i}]", f"not a network in CIDR form: {cidr!r}") from None


@dataclass(frozen=True)
class GeoIPConfig:
    country_db: str | None = None
    asn_db: str | None = None

    def validate(self, key: str) -> None:
        for name in ("country_db", "asn_db"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{key}.{name}", f"no such file: {path}")


@dataclass(frozen=True)
class URLConfig:
    query_allow: tuple[str, ...] = ()
    # Where common sites put user names: a plain word can't be told from a name without a rule.
    # A rule matches at any depth, case-insensitively, on decoded and normalized segments.
    path_rules: tuple[str, ...] = (
        "/users/*", "/user/*", "/u/*", "/profile/*", "/profiles/*", "/members/*", "/people/*", "/author/*",
        "/@*", "/~*",
    )

    def validate(self, key: str) -> None:
        for i, rule in enumerate(self.path_rules):
            if not rule.startswith("/"):
                raise ConfigError(f"{key}.path_rules[{i}]", f"a rule is a path starting with '/', got {rule!r}")


@dataclass(frozen=True)
class ReferrerConfig:
    internal_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventsConfig:
    # An event's time, and the slot within which no group holds two events of one client alone.
    time_granularity: Duration = Duration(3600)
    client: str = "none"  # none | network (ip.ipv4_prefix / ipv6_prefix) | pseudonym (keyed, daily)

    def validate(self, key: str) -> None:
        _at_least(self.time_granularity, 60, f"{key}.time_granularity")
        if 86400 % int(self.time_granularity):
            raise ConfigError(f"{key}.time_granularity", "must divide a day (1m, 10m, 1h, 1d, ...)")
        _choice(self.client, EVENT_CLIENT, f"{key}.client")


@dataclass(frozen=True)
class AggregateConfig:
    window: Duration = Duration(60)
    k: int = 5  # distinct clients every published value rests on: buckets and event descriptions alike
    dimensions: tuple[str, ...] = DIMENSIONS
    allowed_lateness: Duration = Duration(60)
    rollups: tuple[Duration, ...] = (Duration(3600), Duration(86400))  # distinct visitors over longer spans
    publish_sketches: bool = False  # HLL sketches carry per-visitor coupons: opt in knowing docs/privacy.md

    def validate(self, key: str) -> None:
        _at_least(self.window, 60, f"{key}.window")
        _at_least(self.k, 2, f"{key}.k")
        for i, dim in enumerate(self.dimensions):
            _choice(dim, DIMENSIONS, f"{key}.dimensions[{i}]")
        _at_least(self.allowed_lateness, 0, f"{key}.allowed_lateness")
        below = self.window
        for i, span in enumerate(self.rollups):
            if span <= below or span % below or 86400 % span:
                raise ConfigError(
                    f"{key}.rollups[{i}]",
                    f"{span}s must be longer than, and a multiple of, {below}s (the span before it), and divide a day",
                )
            below = span


@dataclass(frozen=True)
class KeysConfig:
    visitor_rotation: Duration = Duration(86400)
    data_rotation: Duration = Duration(3600)

    def validate(self, key: str) -> None:
        _between(self.visitor_rotation, 60, 86400, f"{key}.visitor_rotation")
        _at_least(self.data_rotation, 1, f"{key}.data_rotation")


@dataclass(frozen=True)
class SecurityConfig:
    window: Duration = Duration(7 * 86400)

    def validate(self, key: str) -> None:
        _at_least(self.window, 1, f"{key}.window")


@dataclass(frozen=True)
class TopicConfig:
    name: str
    partitions: int = 1
    replication: int = 1
    retention: Duration | None = None  # None: the broker's default (analytics); security topics: the window

    def validate(self, key: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", self.name):
            raise ConfigError(f"{key}.name", f"not a valid Kafka topic name: {self.name!r}")
        _at_least(self.partitions, 1, f"{key}.partitions")
        _at_least(self.replication, 1, f"{key}.replication")


@dataclass(frozen=True)
class TopicsConfig:
    raw: TopicConfig = TopicConfig("logs.raw")
    events: TopicConfig = TopicConfig("analytics.events")
    traffic: TopicConfig = TopicConfig("analytics.traffic")
    security: TopicConfig = TopicConfig("security.raw")
    rejected: TopicConfig = TopicConfig("logs.rejected")
    partials: TopicConfig = TopicConfig("logscrub.traffic-partials")  # internal: worker -> window owner
    vocabulary: TopicConfig = TopicConfig("logscrub.vocabulary")  # internal: what k clients showed today
    keys: TopicConfig = TopicConfig("security.keys")  # data, visitor and subject keys, wrapped; one partition
    audit: TopicConfig = TopicConfig("security.audit", retention=Duration(365 * 86400))  # who searched what
    restrictions: TopicConfig = TopicConfig("security.restrictions")  # subjects kept out of analytics

    # Topics that hold raw lines (plain in logs.raw, sealed in the others) or the keys that open
    # them: never kept past the window.
    RAW_ZONE = ("raw", "security", "rejected", "keys")


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    app_id: str = "logscrub"  # the workers' consumer group
    analyst_group_prefix: str = "analytics-"  # analysts' consumer groups (topics acl): never the workers'
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None  # from LOGSCRUB_KAFKA__SASL_PASSWORD, not the file
    ssl_cafile: str | None = None  # None: the system's CAs
    ssl_certfile: str | None = None  # a client certificate, for mutual TLS
    ssl_keyfile: str | None = None  # its private key, unless ssl_certfile holds it

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def validate(self, key: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", self.app_id):
            raise ConfigError(f"{key}.app_id", f"letters, digits, '.', '_' and '-' only, got {self.app_id!r}")
        prefix = self.analyst_group_prefix
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", prefix):
            raise ConfigError(
                f"{key}.analyst_group_prefix", f"letters, digits, '.', '_' and '-' only, at least one, got {prefix!r}"
            )
        for group in (self.app_id, f"{self.app_id}.raw"):  # the workers' groups (docs/architecture.md)
            if group.startswith(prefix):
                raise ConfigError(
                    f"{key}.analyst_group_prefix",
                    f"{prefix!r} would let analysts join the workers' group {group} ({key}.app_id): choose a "
                    "prefix the app id does not start with",
                )
        for i, server in enumerate(self.bootstrap_servers.split(",")):
            if not re.fullmatch(r"\s*[^\s:]+:\d{1,5}\s*", server):
                raise ConfigError(f"{key}.bootstrap_servers", f"entry {i + 1} is not host:port: {server!r}")
        _choice(self.security_protocol, SECURITY_PROTOCOLS, f"{key}.security_protocol")
        _choice(self.sasl_mechanism, SASL_MECHANISMS, f"{key}.sasl_mechanism")
        sasl_settings = ("sasl_username", "sasl_password")
        ssl_settings = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        # A setting the protocol does not use is an error: otherwise a wrong protocol would quietly
        # connect without the login or the TLS meant. Values are never quoted (one is a password).
        for name in sasl_settings + ssl_settings:
            if getattr(self, name) and not (self.sasl if name in sasl_settings else self.tls):
                raise ConfigError(
                    f"{key}.{name}", f"is set, but {key}.security_protocol {self.security_protocol} does not use it"
                )
        if self.sasl:
            for name in sasl_settings:
                if not getattr(self, name):
                    hint = " (set LOGSCRUB_KAFKA__SASL_PASSWORD)" if name == "sasl_password" else ""
                    raise ConfigError(
                        f"{key}.{name}", f"required with security_protocol {self.security_protocol}{hint}"
                    )
        for name in ssl_settings:
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"{key}.{name}", f"no such file: {path}")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ConfigError(f"{key}.ssl_keyfile", "is set without ssl_certfile, the certificate it belongs to")


@dataclass(frozen=True)
class MetricsConfig:
    host: str = "127.0.0.1"
    port: int = 9108  # 0: no metrics server

    def validate(self, key: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9.:_-]{1,253}", self.host):
            raise ConfigError(f"{key}.host", f"expected an address or host name to listen on, got {self.host!r}")
        _between(self.port, 0, 65535, f"{key}.port")


SPOOL_MIN_BYTES = 1 << 20


@dataclass(frozen=True)
class ShipConfig:
    """``logscrub ship``'s spool: raw lines the broker has not taken yet, on disk (docs/operations.md)."""

    spool_dir: str = "~/.local/state/logscrub/spool"
    spool_max_bytes: int = 1 << 30  # 0: no spool

    def validate(self, key: str) -> None:
        if not os.path.isabs(os.path.expanduser(self.spool_dir)):
            raise ConfigError(
                f"{key}.spool_dir", f"expected an absolute path (or one starting with ~), got {self.spool_dir!r}"
            )
        if self.spool_max_bytes != 0 and self.spool_max_bytes < SPOOL_MIN_BYTES:
            raise ConfigError(
                f"{key}.spool_max_bytes",
                f"{self.spool_max_bytes} is below the minimum {SPOOL_MIN_BYTES} (1 MiB), or 0 for no spool",
            )


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "WARNING"
    json: bool = False

    def validate(self, key: str) -> None:
        _choice(self.level, LOG_LEVELS, f"{key}.level")


@dataclass(frozen=True)
class Config:
    input: InputConfig = InputConfig()
    ip: IPConfig = IPConfig()
    geoip: GeoIPConfig = GeoIPConfig()
    url: URLConfig = URLConfig()
    referrer: ReferrerConfig = ReferrerConfig()
    events: EventsConfig = EventsConfig()
    aggregate: AggregateConfig = AggregateConfig()
    keys: KeysConfig = KeysConfig()
    security: SecurityConfig = SecurityConfig()
    kafka: KafkaConfig = KafkaConfig()
    topics: TopicsConfig = TopicsConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    ship: ShipConfig = ShipConfig()

    def validate(self) -> None:
        _validate_tree(self, "")
        if self.aggregate.rollups and self.aggregate.rollups[-1] > self.keys.visitor_rotation:
            raise ConfigError(
                "aggregate.rollups",
                f"{self.aggregate.rollups[-1]}s is longer than keys.visitor_rotation ({self.keys.visitor_rotation}s): "
                "visitors hashed under different keys cannot be counted together; list only rollups up to it",
            )
        if self.keys.data_rotation > self.security.window:
            raise ConfigError(
                "keys.data_rotation",
                f"{self.keys.data_rotation}s is longer than security.window ({self.security.window}s): "
                "a key would outlive the window",
            )
        for zone in TopicsConfig.RAW_ZONE:
            retention = getattr(self.topics, zone).retention
            if retention is not None and retention > self.security.window:
                raise ConfigError(
                    f"topics.{zone}.retention",
                    f"{retention}s is longer than security.window ({self.security.window}s): raw lines would outlive it",
                )
        if self.topics.keys.partitions != 1:
            raise ConfigError(
                "topics.keys.partitions",
                "must be 1: workers agree on a period's key by taking the first one in the topic",
            )
        names = [getattr(self.topics, f.name).name for f in dataclasses.fields(self.topics)]
        if len(set(names)) != len(names):
            raise ConfigError("topics", "two outputs share a topic name; analytics and raw data must stay apart")


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the YAML file (if any), apply ``LOGSCRUB_SECTION__KEY`` overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError("(file)", f"cannot read {path}: {e.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError("(file)", f"{path} is not valid YAML: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("(file)", f"{path} must hold a mapping of sections")
        data = loaded or {}
    _apply_env(data, os.environ if env is None else env)
    cfg = _build(Config, data, "")
    cfg.validate()
    return cfg


# LOGSCRUB_* variables that are not settings: the master key is never part of the config
# (crypto/master.py reads them; a test checks the two lists agree).
OTHER_VARIABLES = ("LOGSCRUB_MASTER_KEY", "LOGSCRUB_MASTER_KEY_FILE", "LOGSCRUB_NATIVE")  # read elsewhere


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in OTHER_VARIABLES:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if "__" not in name or not _is_setting(Config, path):
            raise _unknown_variable(name)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(".".join(path), f"set by {name} but the file gives a non-mapping above it")
        node[path[-1]] = _EnvText(raw) if raw != "" else None


def _is_setting(cls: Any, path: list[str]) -> bool:
    """Whether ``path`` names a setting or a section (any key under a mapping setting counts)."""
    for i, part in enumerate(path):
        if not dataclasses.is_dataclass(cls):
            return typing.get_origin(cls) is dict and all(path[i:])
        hints = typing.get_type_hints(cls)
        if part not in {f.name for f in dataclasses.fields(cls)}:
            return False
        cls = hints[part]
    return True


def env_variables(cls: Any = None, prefix: str = ENV_PREFIX) -> list[str]:
    """Every variable that sets a setting or a section: ``LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS``, ..."""
    names = []
    hints = typing.get_type_hints(cls or Config)
    for f in dataclasses.fields(cls or Config):
        name = f"{prefix}{f.name.upper()}"
        if prefix != ENV_PREFIX:
            names.append(name)
        if dataclasses.is_dataclass(hints[f.name]):
            names += env_variables(hints[f.name], name + "__")
    return names


def _unknown_variable(name: str) -> ConfigError:
    """Refused like an unknown key: a typo would otherwise be ignored and the default used silently."""
    known = [v.removeprefix(ENV_PREFIX) for v in (*env_variables(), *OTHER_VARIABLES)]
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), known, n=1, cutoff=0.75)
    hint = (
        f"did you mean {ENV_PREFIX}{close[0]}?"
        if close
        else "a setting is set by LOGSCRUB_SECTION__KEY (two underscores), e.g. LOGSCRUB_IP__MODE"
    )
    return ConfigError(name, f"not a logscrub variable; {hint}")


def _build(cls: type, data: Any, key: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(key or "(file)", f"expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{key}.{unknown[0]}" if key else unknown[0]
        raise ConfigError(where, f"unknown setting (known here: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in data.items():
        sub = f"{key}.{name}" if key else name
        tp = hints[name]
        if isinstance(value, _EnvText) and dataclasses.is_dataclass(tp):
            value = _yaml(value)
        if dataclasses.is_dataclass(tp):
            if isinstance(value, dict) and tp is TopicConfig:
                # A topic given in part (its name from the environment, say) keeps the rest of its
                # default: the audit trail's 365-day retention, not the broker's.
                value = {**dataclasses.asdict(_default_of(fields[name])), **value}
            kwargs[name] = _build(tp, value if value is not None else {}, sub)
        else:
            kwargs[name] = _convert(tp, value, sub)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(key or "(file)", str(e)) from None


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key)
    if isinstance(value, _EnvText):
        if tp is str:
            return str(value)
        value = _yaml(value)
    if tp is Duration:
        return parse_duration(value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {_shown(key, value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected a whole number, got {_shown(key, value)}")
        return value
    if tp is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(key, f"expected a string, got {_shown(key, value)}")
        return str(value)
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {_shown(key, value)}")
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {_shown(key, value)}")
        return {str(k): _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"unsupported config type {tp!r} at {key}")  # a bug in this module, not user input


def _yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return str(text)


def _validate_tree(node: Any, key: str) -> None:
    for f in dataclasses.fields(node):
        child = getattr(node, f.name)
        if dataclasses.is_dataclass(child):
            _validate_tree(child, f"{key}.{f.name}" if key else f.name)
    own = getattr(node, "validate", None)
    if own is not None and key:
        own(key)


def _choice(value: str, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise ConfigError(key, f"{_shown(key, value)} is not one of {', '.join(allowed)}")


def _at_least(value: int, low: int, key: str) -> None:
    if value < low:
        raise ConfigError(key, f"{value} is below the minimum {low}")


def _between(value: int, low: int, high: int, key: str) -> None:
    if not low <= value <= high:
        raise ConfigError(key, f"{value} is outside {low}..{high}")


def render(cfg: object) -> str:
    """A config tree as YAML that loads back to the same config, secrets masked: safe to paste into a ticket."""
    return yaml.safe_dump(_plain(cfg), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {k: MASK if _is_secret(str(k), v) else _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Duration):
        return _duration_text(value)
    return value


def _is_secret(name: str, value: Any) -> bool:
    # An unset secret stays visible as unset: that is worth seeing, and reveals nothing.
    return value not in (None, "") and SECRET_NAME.search(name.lower()) is not None


def _duration_text(seconds: int) -> str:
    """90 -> "90s", 3600 -> "1h", 604800 -> "7d": how the example config writes durations."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
