#!/usr/bin/env bash
# "Runs on a bare machine": what `make run` does, in a fresh virtual environment holding ONLY
# requirements.txt (no dev packages that could hide a missing runtime dependency, as httpx once
# was), then:
#   1. migrate, seed_demo, collectstatic (as `make run`), then imports every module of the project
#      (tests/, bench/ and scripts/ are dev-only: skipped);
#   2. `manage.py run_embedded` on a spare port with OCX_VAR_DIR in a temp dir, and a few pages
#      fetched (health, admin, API docs and schema, a static file, the favicon);
#   3. lets Celery beat run for OCX_SMOKE_SECONDS (default 60);
#   4. stops it as Ctrl-C does, fails on any traceback or ERROR line in its log, and lists what
#      beat ran (fails when it ran nothing).
# Usage: scripts/ci/runtime_smoke.sh   (OCX_SMOKE_SECONDS=10 for a quick local trial;
#        OCX_SMOKE_KEEP=1 keeps the temp dir; PYTHON picks the interpreter, default python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${OCX_SMOKE_SECONDS:-60}
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/ocx-runtime-smoke.XXXXXX")
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -z "${OCX_SMOKE_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$1"; }
fail() { echo "runtime smoke FAILED: $1" >&2; exit 1; }

# Embedded mode, as on a fresh machine: no services, nothing from the caller's environment.
unset DATABASE_URL REDIS_URL OCX_CI_SERVICES DJANGO_SETTINGS_MODULE
export OCX_VAR_DIR="$work/var" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PORT=$port

step "fresh venv with requirements.txt only ($work/venv)"
"$python" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -qq --disable-pip-version-check -r requirements.txt
for dev in pytest factory schemathesis playwright; do
  if "$py" -c "import $dev" 2>/dev/null; then fail "dev package '$dev' is importable from the runtime venv"; fi
done

step "migrate, seed_demo, collectstatic (as make run)"
"$py" manage.py migrate --no-input -v 0
"$py" manage.py seed_demo >"$work/seed.log" 2>&1 || { cat "$work/seed.log"; fail "seed_demo"; }
"$py" manage.py collectstatic --no-input -v 0

step "import every module of the project"
"$py" - <<'PY'
import importlib
import os
import pkgutil
import sys
import traceback

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")
import django

django.setup()
PACKAGES = ["ocx", "registry", "workflow", "activity_feed", "runs"]  # tests/, bench/, scripts/: dev only
failed, count = [], 0
for name in PACKAGES:
    package = importlib.import_module(name)
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
        count += 1
        try:
            importlib.import_module(info.name)
        except Exception:
            failed.append(info.name)
            traceback.print_exc()
for name in ("manage",):
    count += 1
    importlib.import_module(name)
print(f"imported {count} modules, {len(failed)} failed")
sys.exit(1 if failed else 0)
PY

step "run_embedded on 127.0.0.1:$port for ${seconds}s"
log="$work/server.log"
"$py" manage.py run_embedded --port "$port" >"$log" 2>&1 &
server_pid=$!
"$py" - "$port" <<'PY' || { cat "$log"; fail "the server did not answer"; }
import sys
import time
import urllib.error
import urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(f"{base}/health", timeout=2)
        break
    except (OSError, urllib.error.URLError):
        if time.monotonic() > deadline:
            sys.exit("no answer from /health within 60 s")
        time.sleep(0.5)
for path in ("/health", "/admin/login/", "/api/docs/", "/api/schema/", "/static/admin/css/base.css", "/favicon.ico"):
    status = urllib.request.urlopen(f"{base}{path}", timeout=30).status
    print(f"GET {path} -> {status}")
    if status != 200:
        sys.exit(f"GET {path} answered {status}")
PY
sleep "$seconds"
kill -0 "$server_pid" 2>/dev/null || { cat "$log"; fail "the server exited early"; }
kill -INT "$server_pid"
for _ in $(seq 1 30); do kill -0 "$server_pid" 2>/dev/null || break; sleep 1; done
if kill -0 "$server_pid" 2>/dev/null; then cat "$log"; fail "the server did not stop within 30 s of Ctrl-C"; fi
wait "$server_pid" || true
server_pid=""

step "server log"
cat "$log"
if grep -nE "Traceback|[[:space:]]ERROR[[:space:]]|^ERROR|CRITICAL" "$log"; then
  fail "traceback or ERROR in the server log (above)"
fi
grep -q "stopped." "$log" || fail "no clean shutdown in the log"

step "what beat ran (its schedule file, written at shutdown)"
"$py" - <<'PY' || fail "beat ran no periodic job"
import os
import shelve
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")
import django

django.setup()
from django.conf import settings

with shelve.open(settings.CELERY_BEAT_SCHEDULE_FILENAME, flag="r") as db:
    entries = dict(db.get("entries", {}))
for name, entry in sorted(entries.items()):
    print(f"  {name}: every {entry.schedule}, ran {entry.total_run_count}x")
sys.exit(0 if any(entry.total_run_count for entry in entries.values()) else 1)
PY
echo "runtime smoke OK"
