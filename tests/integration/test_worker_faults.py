"""Faults around a running worker, on the real broker: after each, every line is accounted for."""

from __future__ import annotations

import signal
import threading

from broker import restart_broker
from logscrub.sample import generate
from pipeline_env import Pipeline, request_totals, sources


def lines(n: int, seed: int) -> list[bytes]:
    return [line.encode() for line in generate(n, seed=seed, clients=300, user_agents=80)]


def accounted(p: Pipeline, sent: int) -> bool:
    return len(set(sources(p.read("security") + p.read("rejected")))) >= sent


def assert_accounting(p: Pipeline, sent: int) -> int:
    """Every line exactly once or as a counted duplicate; returns the number of duplicates."""
    raw_zone = p.read("security") + p.read("rejected")
    unique = set(sources(raw_zone))
    assert len(unique) == sent
    events = p.read("events")
    assert len(events) == len(p.read("security"))  # each processing of a line gives an event and its sealed line
    return len(raw_zone) - len(unique)


def test_broker_restart_while_the_worker_runs(own_broker, topic_name, tmp_path):
    bootstrap, state_dir = own_broker
    p = Pipeline(bootstrap, topic_name, tmp_path)
    try:
        first = p.produce(lines(5000, seed=21))
        p.start_worker()
        p.wait_for("the worker to start", lambda: len(p.read("security")) > 0)
        restart_broker(state_dir)
        second = p.produce(lines(5000, seed=22))
        sent = first + second
        p.wait_for("every line after the broker restart", lambda: accounted(p, sent), timeout=240)
        duplicates = assert_accounting(p, sent)
        assert duplicates <= sent // 2
        n_unique = len(set(sources(p.read("security"))))
        p.wait_for("aggregates", lambda: request_totals(p.read("traffic")) >= n_unique)
    finally:
        p.stop_all()


def test_a_worker_joins_and_another_leaves_mid_stream(kafka_bootstrap, topic_name, tmp_path):
    p = Pipeline(kafka_bootstrap, topic_name, tmp_path, raw_partitions=4)
    try:
        first = p.start_worker()
        p.wait_for_group(1)
        stop = threading.Event()
        sent = [0]

        def produce() -> None:  # a steady stream while the group changes under it
            seed = 100
            while not stop.is_set():
                sent[0] += p.produce(lines(1000, seed=seed))
                seed += 1

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            p.wait_for("progress", lambda: len(p.read("security")) >= 2000)
            p.start_worker()
            p.wait_for_group(2)
            p.wait_for("progress with two workers", lambda: len(p.read("security")) >= 6000)
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=60)
            p.wait_for_group(1)
        finally:
            stop.set()
            producer.join()
        p.wait_for("every line after the rebalances", lambda: accounted(p, sent[0]), timeout=240)
        duplicates = assert_accounting(p, sent[0])
        assert duplicates <= sent[0] // 2, f"{duplicates} duplicates of {sent[0]} lines"
    finally:
        p.stop_all()
