"""The wire protocol: frame parsing, schema validation and frame building (no I/O)."""
