"""Kafka drivers around the pure core: topics, the worker, the shipper and topic readers."""
