"""logscrub: anonymize web-server access logs on Apache Kafka."""

__version__ = "0.1.0"
