"""Operating the long-running commands: Prometheus metrics, health, logging."""
