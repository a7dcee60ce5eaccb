"""Kafka: connection settings, topics and ACLs, topic readers, and the stores kept in topics."""
