"""``manage.py load_workflow_template FILE --tenant SLUG [--publish]``: a template in its JSON form
(the same form the API creates and exports) as a new draft version, published on request."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ocx.core import errors
from ocx.core.models import Tenant
from workflow.engine import services


class Command(BaseCommand):
    help = "Load a workflow template from its JSON form as the next version of its name."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--publish", action="store_true", help="Publish the loaded version")

    def handle(self, *args, file, tenant, publish, **options):
        target = Tenant.objects.filter(slug=tenant).first()
        if target is None:
            raise CommandError(f"Unknown tenant {tenant!r}.")
        try:
            with open(file, encoding="utf-8") as fh:
                definition = json.load(fh)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            template = services.template_create(tenant=target, actor=None, definition=definition)
            if publish:
                template = services.template_publish(tenant=target, actor=None, template_id=template.pk)
        except errors.ApplicationError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc
        self.stdout.write(f"Loaded {template.name} v{template.version} ({template.status}), id {template.pk}.")
