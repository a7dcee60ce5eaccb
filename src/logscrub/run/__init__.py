"""The drivers: scrub on files, the Kafka worker (raw loop and window owners), the shipper."""
