"""docker-compose.yml, config/prometheus.yml and the Dockerfile agree with the code.

Docker cannot run here, so the files are read as data: a typo'd LOGSCRUB_* name, a command
the CLI does not have, an unmounted config file or a scrape target on the wrong port fails
here instead of in a user's first ``docker compose up``.
"""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from logscrub.cli.main import _parser
from logscrub.config import load
from logscrub.ops.metrics import ShipperMetrics, WorkerMetrics
from logscrub.crypto import master

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LOGSCRUB = ("topics", "worker", "shipper")
_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def env_of(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def mounts_of(service: str) -> dict[str, str]:
    """Container path -> host path or volume name, with ${VAR:-default} read as its default."""
    out = {}
    for spec in SERVICES[service].get("volumes", []):
        source, target = _VAR.sub(lambda m: m.group(2) or "", spec).split(":")[:2]
        out[target] = source
    return out


def host_path(service: str, path: str) -> tuple[str, str]:
    """Which mount holds ``path`` in the container: (its source, path below it)."""
    for target, source in mounts_of(service).items():
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return source, path[len(target):].lstrip("/")
    raise AssertionError(f"{service}: {path} is on no mount")


def args_of(service: str):
    command = SERVICES[service]["command"]
    try:
        return _parser().parse_args(command)
    except SystemExit:
        raise AssertionError(f"{service}: `logscrub {' '.join(command)}` is not a valid command") from None


def config_file_of(service: str) -> Path:
    source, below = host_path(service, args_of(service).config)
    assert source.startswith("./"), f"{service}: the config comes from a volume, not from the repository"
    return ROOT / source / below if below else ROOT / source


def test_the_stack_has_its_services():
    assert {"kafka", "topics", "worker", "shipper", "prometheus", "grafana"} <= set(SERVICES)
    assert SERVICES["kafka"]["image"] == "apache/kafka:4.1.1"
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus")
    for service in LOGSCRUB:
        assert SERVICES[service]["build"] == ".", f"{service} does not run the image of this repository"


def test_kafka_runs_in_kraft_combined_mode():
    env = env_of("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node = env["KAFKA_NODE_ID"]
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert [v.split("@")[0] for v in voters] == [node]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert set(listeners) <= set(protocols)
    assert voters[0].split(":")[-1] == listeners[env["KAFKA_CONTROLLER_LISTENER_NAMES"]].split(":")[-1]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"  # one broker: the default 3 never comes up


@pytest.mark.parametrize("service", LOGSCRUB)
def test_logscrub_services_reach_kafka_where_it_advertises_itself(service):
    kafka = env_of("kafka")
    advertised = {item.split("://")[1] for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    servers = env_of(service)["LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS"].split(",")
    assert servers and set(servers) <= advertised


def test_the_host_listener_is_published():
    advertised = [item.split("://")[1] for item in env_of("kafka")["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    host_ports = [a.split(":")[1] for a in advertised if a.startswith("localhost:")]
    published = [p.split(":")[-1] for p in SERVICES["kafka"]["ports"]]
    assert host_ports and set(host_ports) <= set(published)


ENV_NAMES = [
    (s, name, value)
    for s in SERVICES
    for name, value in env_of(s).items()
    if name.startswith("LOGSCRUB") and name not in (master.ENV, master.ENV_FILE)
]


@pytest.mark.parametrize(("service", "name", "value"), ENV_NAMES, ids=[f"{s}-{n}" for s, n, _ in ENV_NAMES])
def test_every_logscrub_variable_sets_a_real_setting(service, name, value):
    assert name.startswith("LOGSCRUB_") and "__" in name, f"{name} is not LOGSCRUB_SECTION__KEY: it would be ignored"
    cfg = load(None, env={name: value})  # an unknown section or key raises ConfigError
    node = cfg
    for part in name.removeprefix("LOGSCRUB_").lower().split("__"):
        node = getattr(node, part)
    assert str(node) == value, f"{name}={value} did not reach the config"


@pytest.mark.parametrize("service", LOGSCRUB)
def test_the_mounted_config_loads_with_the_service_environment(service):
    path = config_file_of(service)
    assert path.is_file()
    spec = next(v for v in SERVICES[service]["volumes"] if v.split(":")[1] == args_of(service).config)
    assert spec.endswith(":ro"), f"{service}: the config is mounted writable"
    load(path, env=env_of(service))


def test_the_commands_are_real_subcommands():
    topics = args_of("topics")
    assert (topics.command, topics.action) == ("topics", "apply")
    assert args_of("worker").command == "worker"
    ship = args_of("shipper")
    assert ship.command == "ship" and ship.follow and ship.offsets
    assert SERVICES["topics"]["restart"] == "no"  # a one-shot: restarting it would loop


def test_services_start_in_order():
    assert SERVICES["kafka"]["healthcheck"]["test"]
    assert SERVICES["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for service in ("worker", "shipper"):
        assert SERVICES[service]["depends_on"] == {"topics": {"condition": "service_completed_successfully"}}


def test_ship_offsets_survive_a_restart():
    """Lost offsets re-ship a whole log."""
    offsets = args_of("shipper").offsets
    source, _ = host_path("shipper", str(Path(offsets).parent))
    assert source in COMPOSE["volumes"], f"shipper: {offsets} is not on a named volume"


def test_the_worker_gets_its_master_key_as_a_secret_file():
    """Never in the config or an environment value that `docker inspect` shows."""
    env = env_of("worker")
    assert master.ENV not in env
    secret = Path(env[master.ENV_FILE]).name
    assert secret in SERVICES["worker"]["secrets"]
    assert COMPOSE["secrets"][secret]["file"] == "./master.key"


def test_the_shipper_tails_the_mounted_log_directory():
    for path in args_of("shipper").inputs:
        source, below = host_path("shipper", path)
        assert (ROOT / source / below).is_file(), f"the default {source} has no {below}"
    assert any("${LOGS_DIR" in v for v in SERVICES["shipper"]["volumes"])


def _scrape_targets(prometheus: dict) -> dict[str, set[tuple[str, int]]]:
    """job -> (host, port) it scrapes, from static or DNS service-discovery configs."""
    jobs: dict[str, set[tuple[str, int]]] = {}
    for job in prometheus["scrape_configs"]:
        found = jobs.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                found.add((host, int(port)))
        for dns in job.get("dns_sd_configs", []):
            found.update((name, int(dns["port"])) for name in dns["names"])
    return jobs


def test_prometheus_scrapes_the_worker_and_the_shipper_on_their_metrics_port():
    assert mounts_of("prometheus")["/etc/prometheus/prometheus.yml"] == "./config/prometheus.yml"
    prometheus = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())
    targets = set().union(*_scrape_targets(prometheus).values())
    for service in ("worker", "shipper"):
        metrics = load(config_file_of(service), env=env_of(service)).metrics
        assert metrics.host == "0.0.0.0", f"{service}: metrics listen on {metrics.host}, unreachable from prometheus"
        assert (service, metrics.port) in targets


def _exported_series() -> set[str]:
    """Every series name the worker and shipper can expose, as prometheus_client names them."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = set()
    for metrics in (WorkerMetrics(), ShipperMetrics()):
        for family in metrics.registry.collect():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def _dashboard_metrics() -> set[str]:
    dashboard = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return {name for expr in exprs for name in re.findall(r"\b(?:logscrub|process)_\w+", expr)}


def test_the_grafana_dashboard_queries_metrics_that_exist():
    used = _dashboard_metrics()
    assert used and used <= _exported_series(), sorted(used - _exported_series())


def test_the_grafana_dashboard_shows_every_metric_the_code_exports():
    """Every family of the worker's and the shipper's registries, process_* and build_info included."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    used = _dashboard_metrics()
    families = {
        family.name: {family.name + suffix for suffix in suffixes[family.type]}
        for metrics in (WorkerMetrics(), ShipperMetrics())
        for family in metrics.registry.collect()
    }
    assert {"process_resident_memory_bytes", "logscrub_build_info", "logscrub_ship_spool_bytes"} <= set(families)
    missing = sorted(name for name, series in families.items() if not series & used)
    assert not missing, f"not on the dashboard: {missing}"


def test_the_image_runs_logscrub_as_a_non_root_user():
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())  # join continued lines
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    last = {word.upper(): rest for word, rest in instructions}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(last["ENTRYPOINT"]) == ["logscrub"] and "logscrub" in scripts
    assert last["FROM"] == "python:3.11-slim"
    assert last["USER"] not in ("root", "0")


README = (ROOT / "README.md").read_text()


def _dockerfile_uid() -> str:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"useradd [^\n]*--uid (\d+)", text)
    assert match, "the Dockerfile makes no user with a fixed uid"
    return match.group(1)


def _docker_quick_start() -> list[str]:
    section = README.split("With Docker", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines()]


def test_the_readme_makes_the_master_key_owned_by_the_images_user_before_up():
    commands = _docker_quick_start()
    init = next(i for i, c in enumerate(commands) if re.fullmatch(r"logscrub keys init master\.key", c))
    chown = next(i for i, c in enumerate(commands) if re.fullmatch(rf"(sudo )?chown {_dockerfile_uid()} master\.key", c))
    up = next(i for i, c in enumerate(commands) if c.startswith("docker compose up"))
    assert init < chown < up
    assert COMPOSE["secrets"]["logscrub_master_key"]["file"] == "./master.key"
    args = _parser().parse_args(["keys", "init", "master.key"])
    assert (args.command, args.action, args.file) == ("keys", "init", "master.key")
    # The Docker-only way runs a service without secrets (the worker's would need master.key already).
    docker_way = re.search(r"docker compose run [^`]*? (\w+) keys init /out/master\.key", README)
    assert docker_way and "secrets" not in SERVICES[docker_way.group(1)]


def test_the_readme_names_only_volumes_that_exist():
    named = set(re.findall(r"`([\w-]+)` volume", README))
    assert named, "the README names no volume"
    assert named <= set(COMPOSE["volumes"]), sorted(named - set(COMPOSE["volumes"]))


def _topics_of(service: str):
    return load(config_file_of(service), env=env_of(service)).topics


def test_every_scaling_example_has_the_partitions_it_needs():
    """--scale worker=N idles no worker: logs.raw and the partials have N partitions or more."""
    compose_text = (ROOT / "docker-compose.yml").read_text()
    scales = [int(n) for n in re.findall(r"--scale worker=(\d+)", README + compose_text)]
    assert scales and max(scales) >= 2
    topics = {service: _topics_of(service) for service in LOGSCRUB}
    assert len({repr(t) for t in topics.values()}) == 1, "logscrub services disagree on the topics"
    shipped = topics["worker"]
    assert min(shipped.raw.partitions, shipped.partials.partitions) >= max(scales)
    up_to = re.search(r"--scale worker=\d+ +# more workers, up to (\d+)", README)
    assert up_to and int(up_to.group(1)) == shipped.raw.partitions


@pytest.mark.parametrize("service", ["worker", "shipper"])
def test_worker_and_shipper_are_checked_on_health_ready(service):
    check = SERVICES[service]["healthcheck"]
    command = check["test"]
    assert command[0] == "CMD" and command[1] == "python"  # the image is python:*-slim: no curl
    cfg = load(config_file_of(service), env=env_of(service)).metrics
    url = re.search(r"urlopen\('([^']+)'", command[-1])
    assert url and url.group(1) == f"http://127.0.0.1:{cfg.port}/health/ready"
    assert cfg.host in ("0.0.0.0", "127.0.0.1")  # answers on the container's loopback
    assert check["start_period"] and check["retries"] >= 1


def test_grafana_is_in_the_stack_with_the_dashboard_and_datasource_provisioned():
    grafana = SERVICES["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    mounts = mounts_of("grafana")
    datasources = yaml.safe_load((ROOT / mounts_of_file(mounts, "/etc/grafana/provisioning/datasources/")).read_text())
    (source,) = datasources["datasources"]
    prometheus_port = SERVICES["prometheus"]["ports"][0].split(":")[-1]
    assert source["type"] == "prometheus" and source["url"] == f"http://prometheus:{prometheus_port}"
    providers = yaml.safe_load((ROOT / mounts_of_file(mounts, "/etc/grafana/provisioning/dashboards/")).read_text())
    (provider,) = providers["providers"]
    dashboards = [t for t in mounts if t.startswith(provider["options"]["path"].rstrip("/") + "/")]
    assert [mounts[t] for t in dashboards] == ["./config/grafana-dashboard.json"]
    dashboard = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == source["type"]
    assert "prometheus" in grafana["depends_on"]


def mounts_of_file(mounts: dict[str, str], directory: str) -> str:
    """The host file mounted into ``directory`` (a provisioning folder)."""
    (target,) = [t for t in mounts if t.startswith(directory)]
    assert mounts[target].startswith("./config/grafana/"), mounts[target]
    return mounts[target]


def test_prometheus_in_compose_loads_the_alert_rules_beside_its_config():
    prometheus = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())
    mounts = mounts_of("prometheus")
    config_dir = str(Path("/etc/prometheus/prometheus.yml").parent)
    for rule_file in prometheus["rule_files"]:
        assert mounts[f"{config_dir}/{rule_file}"] == f"./config/{rule_file}"


def test_the_shipper_spool_is_on_a_named_volume():
    """A spool lost with its container would lose the lines the broker had not taken."""
    spool = load(config_file_of("shipper"), env=env_of("shipper")).ship.spool_dir
    source, _ = host_path("shipper", spool)
    assert source in COMPOSE["volumes"]


def _patterns(path: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_dockerignore_is_at_least_as_strict_as_gitignore_and_keeps_master_key_out():
    """A .gitignore pattern without a slash (but a trailing one) matches at any depth: **/ in Docker's."""
    docker = {p.rstrip("/") for p in _patterns(ROOT / ".dockerignore")}
    for pattern in _patterns(ROOT / ".gitignore"):
        bare = pattern.rstrip("/")
        wanted = bare if "/" in bare else f"**/{bare}"
        assert wanted in docker, f".dockerignore lacks {wanted} (.gitignore has {pattern})"
    assert "**/master.key" in docker and ".git" in docker


def test_the_dockerfile_says_what_lives_in_its_state_directory():
    text = (ROOT / "Dockerfile").read_text()
    comments = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "key file" not in comments.lower()  # workers keep their keys in security.keys, not in files
    home = re.search(r"--home-dir (\S+)", text).group(1)
    ship = args_of("shipper")
    for path in (ship.offsets, load(config_file_of("shipper"), env=env_of("shipper")).ship.spool_dir):
        assert path.startswith(home + "/")
    volumes = set(re.findall(r"\b([\w]+-[\w-]+) volume|\(docker-compose\.yml's ([\w-]+)\)", comments))
    named = {v for pair in volumes for v in pair if v}
    assert named and named <= set(COMPOSE["volumes"])
