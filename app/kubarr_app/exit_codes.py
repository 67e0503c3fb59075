"""Exit codes of the ``kubarr`` command; the operator's Job reads these."""

EXIT_OK = 0
EXIT_MIGRATION_FAILED = 1
EXIT_CONFIG = 2
EXIT_DATABASE_BUSY = 3
EXIT_SCHEMA_NOT_AT_HEAD = 4
EXIT_UNSAFE_SQLITE = 5
