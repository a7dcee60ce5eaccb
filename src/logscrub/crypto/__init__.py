"""Keys and sealing: key rings and their file store, the master key, subject keys, the raw-line envelope. No Kafka, no CLI."""
