"""What the output topics hold, for their readers: the JSON Schema of every record type, and the
measures of the analytics outputs that ``logscrub report`` prints (pure: no I/O)."""
