"""Security headers, the Content-Security-Policy and the production settings (issue 11
"Hardening"). The browser side of the policy is tests/browser/test_csp.py."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", "/health", "/api/v1/ping"])
def test_every_page_carries_the_security_headers(client, path):
    response = client.get(path)

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = csp(response)
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_scripts_and_styles_come_from_our_origin_or_carry_the_nonce(client):
    policy = csp(client.get("/admin/login/"))

    for directive in ("script-src", "style-src"):
        assert policy[directive][0] == "'self'"
        assert all(s == "'self'" or s.startswith("'nonce-") for s in policy[directive]), policy[directive]
    assert "'unsafe-inline'" not in str(policy) and "'unsafe-eval'" not in str(policy)


def test_swagger_ui_has_no_inline_script_and_its_style_carries_the_nonce(client):
    response = client.get("/api/docs/")
    html = response.content.decode()
    nonce = next(s for s in csp(response)["style-src"] if s.startswith("'nonce-"))[7:-1]

    assert re.findall(r"<script>", html) == []  # the init script is a separate request
    assert f'<style nonce="{nonce}">' in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


def test_csp_can_be_report_only(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None

    response = client.get("/admin/login/")

    assert "Content-Security-Policy" not in response
    assert "default-src 'self'" in response["Content-Security-Policy-Report-Only"]


# --- production settings ------------------------------------------------------------------------
def _settings_in_subprocess(**env_overrides) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OCX_") and k not in {"DJANGO_SETTINGS_MODULE"}}
    env |= {"DJANGO_SETTINGS_MODULE": "ocx.settings", **env_overrides}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_a_secret_key_from_the_environment():
    result = _settings_in_subprocess(OCX_ENVIRONMENT="production")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "OCX_SECRET_KEY" in result.stderr


def test_production_refuses_debug():
    result = _settings_in_subprocess(OCX_ENVIRONMENT="production", OCX_SECRET_KEY="x" * 60, OCX_DEBUG="true")

    assert result.returncode != 0 and "OCX_DEBUG" in result.stderr


def test_production_turns_on_https_only_cookies_redirect_and_hsts():
    result = _settings_in_subprocess(OCX_ENVIRONMENT="production", OCX_SECRET_KEY="x" * 60)
    development = _settings_in_subprocess()

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "31536000"]
    assert development.stdout.split() == ["False", "False", "False", "0"]
