# logscrub: every command (worker, ship, topics, scrub, config) in one image.
#   docker build -t logscrub .
#   docker run --rm logscrub config show
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /build

# Key files and ship offsets live in /var/lib/logscrub: mount a volume there so they survive
# restarts (a lost key file makes the raw lines sealed under it unreadable before their time).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/logscrub --create-home logscrub
USER logscrub
WORKDIR /var/lib/logscrub

# Prometheus metrics on metrics.port; reachable from outside with LOGSCRUB_METRICS__HOST=0.0.0.0.
EXPOSE 9108
ENTRYPOINT ["logscrub"]
CMD ["--help"]
