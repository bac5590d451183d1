from django.conf import settings

BEAT_SCHEDULE = {
    "registry-activate-due-deployments": {
        "task": "registry.activate_due_deployments",
        "schedule": float(settings.OCX_REGISTRY_ACTIVATION_INTERVAL),
    },
}
