from django.conf import settings
from django.core.checks import Warning, register


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
