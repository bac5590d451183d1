from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ocx import dashboard, health, staticfiles
from ocx.api.root import ApiRootView
from ocx.api.tokens import TokenDetailView, TokenListView, TokenRevokeView, TokenRotateView
from ocx.api.views import MeView, ObtainTokenView, PingView
from ocx.security import protect_metrics

api_v1 = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("auth/token", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/tokens", TokenListView.as_view(), name="auth-tokens"),
    path("auth/tokens/<uuid:token_id>", TokenDetailView.as_view(), name="auth-token-detail"),
    path("auth/tokens/<uuid:token_id>/rotate", TokenRotateView.as_view(), name="auth-token-rotate"),
    path("auth/tokens/<uuid:token_id>/revoke", TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("ping", PingView.as_view(), name="ping"),
    path("", include("activity_feed.urls")),
    path("", include("registry.urls")),
    path("", include("workflow.urls")),
    path("", include("runs.urls")),
]

handler403 = "ocx.admin.permission_denied"  # the admin's refusals: a styled page with the reason

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("dashboard/summary", dashboard.dashboard_summary, name="dashboard-summary"),
    path("health", health.health, name="health"),
    path("favicon.ico", staticfiles.favicon, name="favicon"),
    # else /metrics is 404; answered only to allowed addresses or the metrics token (ocx.security).
    *(
        [path("metrics", protect_metrics(ExportToDjangoView), name="prometheus-django-metrics")]
        if settings.METRICS_ENABLED
        else []
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="ocx/swagger_ui.html"),
        name="swagger-ui",
    ),
    path("api-auth/", include("rest_framework.urls")),
]
