from django.conf import settings
from django.core.checks import Tags, Warning, register

from ocx.core.admin import check_tenant_admins

# Every admin of a model with a tenant scopes it (ocx.E001 / ocx.E002).
register(check_tenant_admins, Tags.admin)

SECRET_KEY_WARNING = "OCX_SECRET_KEY is not set: the development key is in use."
SECRET_KEY_HINT = (
    "Fine on a development machine; set OCX_SECRET_KEY to a long random value on any real deployment "
    "(OCX_ENVIRONMENT=production refuses to start without it)."
)


# A deployment check (`manage.py check --deploy`), not one every command prints: `make run` runs
# four commands and printed it four times. The server says it once (run_embedded), and production
# refuses the development key outright (settings).
@register(Tags.security, deploy=True)
def secret_key_check(app_configs, **kwargs):
    if settings.USING_DEV_SECRET_KEY:
        return [Warning(SECRET_KEY_WARNING, hint=SECRET_KEY_HINT, id="ocx.W001")]
    return []
