"""The slim embedded Kubarr API: storage layer, migrations, auth, audit, caches.

It runs inside a KubarrInstance's pod as ``kubarr serve``; the operator's
migration Job runs ``kubarr migrate`` against the same database file.
"""

__version__ = "0.1.0"
