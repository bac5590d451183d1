"""Shared helper for the PostgreSQL race tests: release ``n`` threads at once."""

import threading

from django.db import connection


def race(n, fn, *, timeout=None):
    """Run ``fn(i)`` in ``n`` threads released together; return results or exceptions.

    Each thread closes its own database connection when done; ``timeout`` bounds each join.
    """
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results
