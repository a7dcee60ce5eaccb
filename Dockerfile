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

# /var/lib/logscrub holds the shipper's state: its offsets file and its spool (raw lines the
# broker has not taken yet). Mount a volume there (docker-compose.yml's shipper-state) so a
# restart resumes where the last one stopped. Workers keep no state here: their keys live in the
# security.keys topic, wrapped with the master key (a secret file, never in the image).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/logscrub --create-home logscrub
USER logscrub
WORKDIR /var/lib/logscrub

# Prometheus metrics on metrics.port; reachable from outside with LOGSCRUB_METRICS__HOST=0.0.0.0.
EXPOSE 9108
ENTRYPOINT ["logscrub"]
CMD ["--help"]
