"""The Content-Security-Policy (django-csp) leaves the admin, Swagger UI and the dashboard
working in a real browser, with no violation reported (issue 11 "Hardening")."""

import pytest

from ocx.core.access import Role
from tests.factories import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every violation the page sees, from the DOM event (added before any page script runs; CDP's
# init scripts are not subject to the page's CSP).
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(page):
    console = []
    page.add_init_script(WATCH)
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))
    return page, console


def violations(page, console) -> list[str]:
    return [*page.evaluate("window.__csp || []"), *console]


@pytest.fixture
def staff(tenant):
    user = member(tenant, Role.ADMIN, username="operator")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


def log_in(page, base, next_url):
    page.goto(f"{base}/admin/login/?next={next_url}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")


def test_admin_pages_work_under_the_policy(asgi_server, watched, staff):
    page, console = watched

    response = page.goto(f"{asgi_server}/admin/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    log_in(page, asgi_server, "/admin/")
    page.wait_for_selector("#site-name", timeout=10_000)
    seen = violations(page, console)

    # a change list (actions, filters: admin JS) and an add form (widgets, jsi18n)
    page.goto(f"{asgi_server}/admin/ocx/membership/")
    page.wait_for_selector("#changelist", timeout=10_000)
    assert page.evaluate("typeof window.django") == "object"  # the admin's jsi18n + jquery ran
    seen += violations(page, console)
    page.goto(f"{asgi_server}/admin/ocx/tenant/add/")
    page.wait_for_selector("#tenant_form", timeout=10_000)
    seen += violations(page, console)

    assert seen == []


def test_swagger_ui_renders_the_schema_under_the_policy(asgi_server, watched, staff):
    page, console = watched

    page.goto(f"{asgi_server}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=20_000)  # the bundle ran, the schema loaded

    assert "OCX API" in page.inner_text(".swagger-ui .info")
    assert violations(page, console) == []


def test_dashboard_goes_live_under_the_policy(asgi_server, watched, staff):
    page, console = watched

    log_in(page, asgi_server, "/")
    page.wait_for_selector("#ws-status[data-state=open]", timeout=10_000)  # its script ran, the WebSocket opened

    assert violations(page, console) == []


def test_the_policy_blocks_an_injected_inline_script_and_the_watch_sees_it(asgi_server, watched, staff):
    page, console = watched
    page.goto(f"{asgi_server}/admin/login/")

    page.evaluate("""() => {
      const s = document.createElement("script");
      s.textContent = "window.__ran = true";
      document.head.appendChild(s);
    }""")
    page.wait_for_function("window.__csp.length > 0", timeout=5_000)

    assert page.evaluate("window.__ran === undefined")
    assert any("script-src" in v for v in violations(page, console))


def test_the_admin_lockout_page_is_styled_and_clean_under_the_policy(asgi_server, watched, staff, settings):
    page, console = watched
    settings.AXES_FAILURE_LIMIT = 2

    for _ in range(2):
        page.goto(f"{asgi_server}/admin/login/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "wrong")
        with page.expect_navigation():
            page.click("input[type=submit]")

    assert "Too many failed logins" in page.inner_text(".errornote")
    assert page.is_visible("#site-name")  # the admin's own header, its stylesheet applied
    assert page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert violations(page, console) == []
