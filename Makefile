# Every target sets up what it needs: a fresh machine needs only python3.11, a JDK 17 and Maven.
# With cargo on PATH the compiled per-line core (native/, Rust) is built into the venv too; without
# it everything installs and runs on the pure-Python core.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: all venv demo test unit kafka-up kafka-down kafka-jars bench clean

all: test

NATIVE_SRC := setup.py native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs)

$(STAMP): pyproject.toml $(NATIVE_SRC)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

## The main job: the pipeline on the bundled sample log.
demo: venv kafka-jars
	bash scripts/demo.sh

## The whole test suite (starts and stops its own Kafka broker).
test: venv kafka-jars
	$(BIN)/python -m pytest

## Only the tests that need no broker.
unit: venv
	$(BIN)/python -m pytest -m 'not kafka'

kafka-jars:
	bash scripts/kafka.sh jars

kafka-up: kafka-jars
	bash scripts/kafka.sh up

kafka-down:
	bash scripts/kafka.sh down

## Speed against the baselines (anonip, a regex+orjson floor) and end to end through a broker it starts
## (or BENCH_BOOTSTRAP), written to bench/results.{json,md}. Sizes: BENCH_LINES, BENCH_RUNS, BENCH_E2E_LINES.
bench: venv kafka-jars
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run

.PHONY: bench-rss soak

## RSS over 5M lines of scrub, 1M distinct visitors and ~10 min of a worker: bench/rss.{json,md}.
bench-rss: venv kafka-jars
	$(BIN)/python -m bench.rss

## One worker at a fixed rate for SOAK_SECONDS (600) at SOAK_RATE lines/s (1000): bench/soak.{json,md}.
soak: venv kafka-jars
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) $(PURE_VENV) .kafka out .pytest_cache .hypothesis build native/target src/logscrub/*.so

## Coverage-guided fuzzing with atheris for FUZZ_SECONDS (60) each: the per-line pipeline, then the
## compiled core against the reference (differential). New inputs are kept in fuzz/corpus.
.PHONY: fuzz
fuzz: venv
	$(BIN)/pip install -q -e '.[fuzz]'
	$(BIN)/python fuzz/fuzz_scrub.py -max_total_time=$${FUZZ_SECONDS:-60} -max_len=4096 fuzz/corpus
	$(BIN)/python fuzz/fuzz_native.py -max_total_time=$${FUZZ_SECONDS:-60} -max_len=4096 fuzz/corpus

## Each compiled piece against its Python reference, in µs per call on the generated logs: bench/native.md.
.PHONY: bench-native
bench-native: venv
	$(BIN)/python -m bench.native

## Install as a machine without a Rust toolchain would (cargo off PATH) into $(PURE_VENV), and run the
## tests that must pass there: the package installs, says "core: python", and the native suite skips.
PURE_VENV := .venv-pure
.PHONY: check-pure
check-pure:
	rm -rf $(PURE_VENV)
	env PATH="$$(scripts/path-without-cargo.sh)" $(PYTHON) -m venv $(PURE_VENV)
	env PATH="$$(scripts/path-without-cargo.sh)" $(PURE_VENV)/bin/pip install -q '.[test]'
	test "$$($(PURE_VENV)/bin/logscrub --version)" = "logscrub $$($(PURE_VENV)/bin/python -c 'import logscrub; print(logscrub.__version__)') (core: python)"
	LOGSCRUB_EXPECT_CORE=python $(PURE_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/native tests/parsing tests/privacy/test_url.py tests/privacy/test_ip.py
