"""``make bench``: run every scenario in bench/scenarios (or ``--only NAME``) against the
distributed mode (PostgreSQL + Redis). ``--quick`` shortens load runs and data sizes (a smoke run)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", action="append", help="scenario name(s) to run")
    parser.add_argument("--quick", action="store_true", help="small data, short load (smoke run)")
    parser.add_argument("--port", type=int, default=8055, help="port of the web server the harness starts")
    parser.add_argument("--minutes", type=float, default=None, help="duration of the soak scenario (default 10)")
    args = parser.parse_args()

    env = harness.bench_env()
    print(f"database {env['DATABASE_URL']}  redis {env['REDIS_URL']}")
    harness.ensure_database(env)
    harness.setup_django(env)
    if not harness.autovacuum_enabled():
        print("note: this PostgreSQL runs with autovacuum = off (production never does): the harness")
        print("      vacuums the outbox work queue before each load run, as autovacuum would")

    import bench.scenarios as scenarios_pkg

    modules = [
        importlib.import_module(f"bench.scenarios.{m.name}") for m in pkgutil.iter_modules(scenarios_pkg.__path__)
    ]
    selected = [m for m in modules if not args.only or m.NAME in args.only]
    if not selected:
        print("no scenario selected")
        return 2
    failed = []
    with harness.Server(env, port=args.port) as server:
        ctx = harness.BenchContext(env=env, server=server, quick=args.quick, minutes=args.minutes)
        for module in selected:
            print(f"\n== {module.NAME}")
            result = module.run(ctx)
            path = harness.write_result(module.NAME, result)
            print(f"  written to {path.relative_to(harness.ROOT)}")
            # A scenario that states pass/fail (``"ok": false``) makes the run fail.
            if result.get("ok") is False:
                failed.append(module.NAME)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
