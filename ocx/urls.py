from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ocx import dashboard, health
from ocx.api.views import MeView, ObtainTokenView, PingView

api_v1 = [
    path("auth/token", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("ping", PingView.as_view(), name="ping"),
    path("", include("activity_feed.urls")),
    path("", include("registry.urls")),
    path("", include("workflow.urls")),
    path("", include("runs.urls")),
]

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("dashboard/summary", dashboard.dashboard_summary, name="dashboard-summary"),
    path("health", health.health, name="health"),
    *([path("", include("django_prometheus.urls"))] if settings.METRICS_ENABLED else []),  # else /metrics is 404
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api-auth/", include("rest_framework.urls")),
]
