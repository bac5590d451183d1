"""Seed 003's default SLA configurations and its two built-in automation triggers, as data."""

from django.db import migrations

DEFAULT_SLAS = [("intake", 60), ("assessment", 240), ("review", 120), ("general", 480)]

BUILTIN_TRIGGERS = [
    {
        "key": "task_completion_followup",
        "name": "Task Completion Follow-up",
        "description": "When an intake task completes, create the follow-up assessment task with high "
        "priority (same assignee and action plan), so follow-up work is scheduled automatically.",
        "event_type": "workflow.task.completed",
        "predicate": "task_type == 'intake'",
        "actions": [
            {
                "action_type": "create_task",
                "parameters": {
                    "title": "Assessment: {title}",
                    "description": "Follow-up assessment of intake task #{task_id}.",
                    "task_type": "assessment",
                    "priority": "high",
                    "copy_assignee": True,
                    "link_action_plan": True,
                },
            }
        ],
        "position": 10,
    },
    {
        "key": "action_plan_activation_notification",
        "name": "ActionPlan Activation Notification",
        "description": "When an action plan is activated, emit a notification alert to stakeholders.",
        "event_type": "workflow.action_plan.activated",
        "predicate": "",
        "actions": [
            {
                "action_type": "emit_alert",
                "parameters": {
                    "alert_type": "action_plan_activated",
                    "message": "Action plan '{title}' activated",
                    "priority": "normal",
                    "escalate": False,
                },
            }
        ],
        "position": 20,
    },
]


def forwards(apps, schema_editor):
    SLAConfig = apps.get_model("workflow", "SLAConfig")
    AutomationTrigger = apps.get_model("workflow", "AutomationTrigger")
    for name, minutes in DEFAULT_SLAS:
        SLAConfig.objects.get_or_create(
            tenant=None, service_area=name, task_type=name, defaults={"target_minutes": minutes, "active": True}
        )
    for spec in BUILTIN_TRIGGERS:
        AutomationTrigger.objects.update_or_create(
            key=spec["key"], defaults={**{k: v for k, v in spec.items() if k != "key"}, "builtin": True, "tenant": None}
        )


def backwards(apps, schema_editor):
    apps.get_model("workflow", "AutomationTrigger").objects.filter(builtin=True).delete()
    apps.get_model("workflow", "SLAConfig").objects.filter(tenant=None).delete()


class Migration(migrations.Migration):
    dependencies = [("workflow", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
