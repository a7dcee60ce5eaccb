#!/usr/bin/env bash
# The main job: the streaming pipeline on the bundled sample log, on a local broker it starts
# and stops itself (see scripts/demo.py). `logscrub scrub` runs the same core without Kafka.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py
