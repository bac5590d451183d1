"""Issue 14: the admin is branded OCX (header, title, index, favicon, badge colours), times carry
their zone, a refusal anywhere in the admin is the admin's styled page with the reason, and the
API has a root page listing its endpoints."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.urls import path, reverse

from ocx import urls as project_urls
from ocx.core.access import Role
from tests.factories import member


def _refuse(request):
    raise PermissionDenied("Only on Tuesdays.")


def _refuse_quietly(request):
    raise PermissionDenied


urlpatterns = [
    path("admin/refuse/", _refuse),
    path("admin/refuse-quietly/", _refuse_quietly),
    path("elsewhere/refuse/", _refuse),
    *project_urls.urlpatterns,
]
handler403 = "ocx.admin.permission_denied"


@pytest.fixture
def staff_user(tenant):
    user = member(tenant, Role.ADMIN, username="staffer")
    user.is_staff = True
    user.save()
    return user


def test_the_admin_is_branded_ocx(client, staff_user):
    client.force_login(staff_user)

    page = client.get(reverse("admin:index")).content.decode()

    assert re.search(r'<div id="site-name"><a href="/admin/">.*OCX</a></div>', page)
    assert "<title>OCX governance | OCX</title>" in page and "<h1>OCX governance</h1>" in page
    assert "Django administration" not in page and "Django site admin" not in page
    assert 'href="/static/ocx/admin.css"' in page and 'rel="icon"' in page and "ocx/favicon.svg" in page
    assert "Times are shown in UTC." in page


def test_badge_colours_and_the_favicon_are_static_files():
    css = open(finders.find("ocx/admin.css")).read()

    assert finders.find("ocx/favicon.svg")
    for state in ("draft", "review", "approved", "active", "suspended", "rejected", "retired", "pending"):
        assert re.search(rf"\.ocx-status-{state}\b[^{{]*\{{[^}}]*background", css), state


def test_times_are_formatted_with_their_zone():
    from django.utils import timezone
    from django.utils.formats import localize

    assert "ocx.formats" in settings.FORMAT_MODULE_PATH, "FORMAT_MODULE_PATH = ['ocx.formats'] in ocx/settings.py"
    at = timezone.localtime(timezone.now())
    assert localize(at).endswith(" UTC") and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", localize(at))


@override_settings(ROOT_URLCONF=__name__)
def test_a_refusal_in_the_admin_is_the_admins_page_with_the_reason(client, staff_user):
    client.force_login(staff_user)

    refused = client.get("/admin/refuse/", HTTP_REFERER="http://testserver/admin/registry/")
    quiet = client.get("/admin/refuse-quietly/")

    assert refused.status_code == 403 and "admin/ocx/refused.html" in [t.name for t in refused.templates]
    assert '<p class="errornote">Only on Tuesdays.</p>' in refused.content.decode()
    assert 'href="http://testserver/admin/registry/"' in refused.content.decode()  # a way back
    assert quiet.status_code == 403 and "You do not have permission to do this." in quiet.content.decode()


@override_settings(ROOT_URLCONF=__name__)
def test_a_refusal_outside_the_admin_or_to_a_non_staff_user_is_djangos_page(client, tenant):
    outsider = member(tenant, Role.MEMBER, username="plain")
    client.force_login(outsider)

    for url in ("/elsewhere/refuse/", "/admin/refuse/"):
        response = client.get(url)
        assert response.status_code == 403 and "admin/ocx/refused.html" not in [t.name for t in response.templates]


@override_settings(ROOT_URLCONF=__name__)
def test_the_way_back_never_leads_off_site(client, staff_user):
    client.force_login(staff_user)

    response = client.get("/admin/refuse/", HTTP_REFERER="https://evil.example/phish")

    assert "evil.example" not in response.content.decode()


def test_the_api_root_lists_the_endpoints_and_is_browsable(client, staff_user):
    client.force_login(staff_user)

    as_json = client.get("/api/v1/", HTTP_ACCEPT="application/json")
    as_html = client.get("/api/v1/", HTTP_ACCEPT="text/html")

    assert as_json.status_code == 200
    body = as_json.json()
    paths = {e["path"] for e in body["endpoints"]}
    assert {"/api/v1/activities", "/api/v1/approvals/pending", "/api/v1/events", "/api/v1/workflow/tasks"} <= paths
    assert "/api/v1/activities/{activity_id}/approve" in paths
    listed = next(e for e in body["endpoints"] if e["path"] == "/api/v1/activities")
    assert listed["url"] == "http://testserver/api/v1/activities"
    assert body["schema"].endswith("/api/schema/") and body["docs"].endswith("/api/docs/")
    assert as_html.status_code == 200 and as_html["Content-Type"].startswith("text/html")
    assert b'href="http://testserver/api/v1/activities"' in as_html.content  # a link to follow


def test_the_api_root_is_in_the_openapi_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert "get" in schema["paths"]["/api/v1/"]
