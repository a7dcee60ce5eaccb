# Every target sets up what it needs: a fresh machine needs only python3.11, a JDK 17 and Maven
# (and Python 3.12 and 3.13, from PATH or pyenv, for unit-pythons). With cargo on PATH the compiled
# per-line core (native/, Rust) is built into the venv too; without it everything installs and runs
# on the pure-Python core.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: all venv demo test unit unit-pythons kafka-up kafka-down kafka-jars bench clean promtool

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

## The whole test suite (starts and stops its own Kafka broker, one per test process). Two processes,
## a test file each at a time: the Kafka tests mostly wait on the broker and the workers, the others
## compute (17 minutes in one process on 2 cores, 13 in two).
TEST_PROCESSES ?= 2
test: venv kafka-jars promtool
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile

## Only the tests that need no broker.
unit: venv promtool
	$(BIN)/python -m pytest -m 'not kafka'

## The tests that need no broker on each other supported Python, in its own virtualenv (.venv-3.12, ...),
## installed as on a machine without a Rust toolchain (cargo off PATH): the pure-Python core, which
## `logscrub --version` must name, while the compiled core's own tests skip and say why.
EXTRA_PYTHONS ?= 3.12 3.13

unit-pythons: $(foreach v,$(EXTRA_PYTHONS),unit-python-$(v))

.PRECIOUS: .venv-%/.installed-stamp  # not an intermediate file to delete after the run

unit-python-%: .venv-%/.installed-stamp promtool
	.venv-$*/bin/logscrub --version | grep -q '(core: python)'
	EXPECT_LOGSCRUB_CORE=python .venv-$*/bin/python -m pytest -q -m 'not kafka' -p no:cacheprovider

# python3.X from PATH; when that command does not run (a pyenv shim for a version that is not
# selected), pyenv's newest 3.X through PYENV_VERSION.
.venv-%/.installed-stamp: pyproject.toml
	@py=python$*; \
	if ! $$py -c '' 2>/dev/null; then \
	  version=$$(pyenv whence $$py 2>/dev/null | sort -V | tail -n 1); \
	  if [ -z "$$version" ]; then echo "$$py: neither on PATH nor installed with pyenv" >&2; exit 1; fi; \
	  export PYENV_VERSION=$$version; \
	fi; \
	export PATH="$$(scripts/path-without-cargo.sh)"; \
	set -x; rm -rf .venv-$*; $$py -m venv .venv-$* && \
	.venv-$*/bin/pip install -q --upgrade pip && \
	.venv-$*/bin/pip install -q '.[test]'  # not editable: the source tree may hold the compiled core
	touch $@

## promtool for the alert-rule tests: on the PATH, or Debian's prometheus package unpacked into
## .tools/bin (nothing installed system-wide, no Prometheus service started; apt-get update needs root).
promtool:
	@command -v promtool >/dev/null || test -x .tools/bin/promtool || { \
	  set -e; tmp="$$(mktemp -d)"; \
	  ( cd "$$tmp" && { apt-get download prometheus >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; } ); \
	  dpkg-deb -x "$$tmp"/prometheus_*.deb "$$tmp/root"; \
	  mkdir -p .tools/bin; cp "$$tmp/root/usr/bin/promtool" .tools/bin/promtool; rm -rf "$$tmp"; \
	  .tools/bin/promtool --version | head -1; }

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

## The figures in docs/performance.md, docs/privacy.md and the README, rewritten from the JSON results
## as they are (bench/docs.py): every bench target does it when it ends; run it after a merge brought
## new results. The test suite fails while a doc shows other figures than the JSON.
.PHONY: bench-docs
bench-docs: venv
	$(BIN)/python -m bench.docs

.PHONY: bench-rss soak

## RSS over 5M lines of scrub, 1M distinct visitors and ~10 min of a worker: bench/rss.{json,md}.
bench-rss: venv kafka-jars
	$(BIN)/python -m bench.rss

## One worker at a fixed rate for SOAK_SECONDS (600) at SOAK_RATE lines/s (1000): bench/soak.{json,md}.
soak: venv kafka-jars
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .venv-* .kafka out .pytest_cache .hypothesis .tools build native/target src/logscrub/*.so

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

