#!/usr/bin/env bash
# `manage.py check --deploy` with production settings must be clean (issue 11 "Hardening").
# Production is OCX_ENVIRONMENT=production: secrets come only from the environment (start-up is
# refused without OCX_SECRET_KEY), HTTPS-only cookies, the HTTPS redirect and HSTS are on.
# Any warning fails the step (--fail-level WARNING).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PY:-.venv/bin/python}"

# 1. Production refuses to start without a secret key from the environment.
if env -u OCX_SECRET_KEY OCX_ENVIRONMENT=production DJANGO_SETTINGS_MODULE=ocx.settings \
    "$PY" manage.py check >/tmp/ocx-check-deploy-nokey.log 2>&1; then
  echo "check_deploy: production started without OCX_SECRET_KEY" >&2
  exit 1
fi
grep -q "OCX_SECRET_KEY" /tmp/ocx-check-deploy-nokey.log || {
  echo "check_deploy: refusal does not name OCX_SECRET_KEY:" >&2
  cat /tmp/ocx-check-deploy-nokey.log >&2
  exit 1
}

# 2. With the secrets set, the deployment checklist is clean.
OCX_ENVIRONMENT=production \
OCX_SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')" \
OCX_ALLOWED_HOSTS=ocx.example.com \
OCX_DEBUG=false \
DJANGO_SETTINGS_MODULE=ocx.settings \
  "$PY" manage.py check --deploy --fail-level WARNING
echo "check_deploy: ok"
