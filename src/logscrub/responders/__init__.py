"""What security responders do with the raw zone: search, subject requests, the audit trail."""
