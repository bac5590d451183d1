from django.conf import settings
from django.core.checks import Tags, Warning, register

from ocx.core.admin import check_tenant_admins

# Every admin of a model with a tenant scopes it (ocx.E001 / ocx.E002).
register(check_tenant_admins, Tags.admin)


@register()
def secret_key_check(app_configs, **kwargs):
    if settings.USING_DEV_SECRET_KEY:
        return [
            Warning(
                "OCX_SECRET_KEY is not set: the development key is in use.",
                hint="Set OCX_SECRET_KEY to a long random value on any real deployment.",
                id="ocx.W001",
            )
        ]
    return []
