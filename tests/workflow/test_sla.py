"""SLA clocks: defaults, pause while blocked, breach marked once, at-risk warning, config CRUD."""

from datetime import timedelta

import pytest
from django.utils import timezone

from activity_feed.models import ActivityEvent
from ocx.core import errors
from tests.workflow.factories import make_task, move
from workflow import services
from workflow.models import SLAConfig, SLARecord, SLAStatus
from workflow.services.sla import sla_scan

pytestmark = pytest.mark.django_db


def _age(task, minutes):
    """Pretend the task's clock started ``minutes`` ago."""
    record = SLARecord.objects.for_tenant(task.tenant_id).get(task=task)
    shift = timedelta(minutes=minutes)
    SLARecord.objects.for_tenant(task.tenant_id).filter(pk=record.pk).update(
        started_at=record.started_at - shift, due_at=record.due_at - shift, at_risk_at=record.at_risk_at - shift
    )
    return SLARecord.objects.for_tenant(task.tenant_id).get(pk=record.pk)


@pytest.mark.parametrize(
    "task_type,minutes", [("intake", 60), ("assessment", 240), ("review", 120), ("general", 480), ("other", 480)]
)
def test_default_configurations_set_the_target(tenant, member_user, task_type, minutes):
    task = make_task(tenant, creator=member_user, task_type=task_type)
    assert task.sla.target_minutes == minutes
    assert task.sla.due_at - task.sla.started_at == timedelta(minutes=minutes)


def test_tenant_configuration_overrides_default(tenant, admin_user, member_user):
    services.sla_config_create(
        tenant=tenant, actor=admin_user, service_area="intake", task_type="intake", target_minutes=15
    )
    assert make_task(tenant, creator=member_user, task_type="intake").sla.target_minutes == 15


def test_blocked_time_does_not_count(tenant, member_user):
    # given an intake task (60 min) started 80 min ago and blocked for all of those 80 min
    task = make_task(tenant, creator=member_user, task_type="intake")
    move(task, "blocked")
    record = _age(task, 80)
    SLARecord.objects.for_tenant(tenant).filter(pk=record.pk).update(paused_at=record.paused_at - timedelta(minutes=80))

    # then no scan breaches it while blocked, although the raw deadline has passed
    assert sla_scan().breached == 0

    # and when work resumes, the deadline moves by the blocked time
    move(task, "in_progress")
    record.refresh_from_db()
    assert record.status == SLAStatus.RUNNING
    assert record.paused_seconds >= 80 * 60
    assert record.due_at > timezone.now() + timedelta(minutes=59)
    assert sla_scan().breached == 0


def test_breach_is_marked_once_with_event_and_alert(tenant, member_user, django_capture_on_commit_callbacks):
    task = make_task(tenant, creator=member_user, task_type="intake", title="Onboard")
    _age(task, 61)

    first, second = sla_scan(), sla_scan()

    assert (first.breached, second.breached) == (1, 0)
    record = SLARecord.objects.for_tenant(tenant).get(task=task)
    assert record.status == SLAStatus.BREACHED and record.breached_at == record.due_at
    breach = ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.sla_breached")
    assert breach.count() == 1 and breach.get().entity_id == str(task.pk)
    alerts = ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.alert.raised")
    assert alerts.count() == 1 and alerts.get().event_metadata["alert_type"] == "sla_breached"


def test_breached_stays_breached_after_completion(tenant, member_user):
    task = make_task(tenant, creator=member_user, task_type="intake")
    _age(task, 61)
    sla_scan()
    move(task, "in_progress", "completed")
    record = SLARecord.objects.for_tenant(tenant).get(task=task)
    assert record.status == SLAStatus.BREACHED and record.completed_at and record.actual_minutes >= 61


def test_completion_in_time_is_met(tenant, member_user):
    task = move(make_task(tenant, creator=member_user, task_type="intake"), "in_progress", "completed")
    assert SLARecord.objects.for_tenant(tenant).get(task=task).status == SLAStatus.MET


def test_late_completion_before_scan_is_breached_once(tenant, member_user):
    task = make_task(tenant, creator=member_user, task_type="intake")
    move(task, "in_progress")
    _age(task, 70)
    move(task, "completed")
    assert SLARecord.objects.for_tenant(tenant).get(task=task).status == SLAStatus.BREACHED
    assert sla_scan().breached == 0
    assert ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.sla_breached").count() == 1


def test_cancelled_task_stops_the_clock(tenant, member_user):
    task = move(make_task(tenant, creator=member_user), "blocked", "cancelled")
    record = SLARecord.objects.for_tenant(tenant).get(task=task)
    assert record.status == SLAStatus.CANCELLED
    _age(task, 1000)
    assert sla_scan().breached == 0


def test_at_risk_warning_fires_once_at_fraction(tenant, member_user):
    task = make_task(tenant, creator=member_user, task_type="intake")  # 60 min, warning at 48 min
    _age(task, 40)
    assert sla_scan().at_risk == 0
    _age(task, 10)
    assert sla_scan().at_risk == 1
    assert sla_scan().at_risk == 0
    assert ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.sla_warning").count() == 1
    assert SLARecord.objects.for_tenant(tenant).get(task=task).at_risk


def test_at_risk_fraction_is_configurable(tenant, admin_user, member_user):
    services.sla_config_create(
        tenant=tenant,
        actor=admin_user,
        service_area="review",
        task_type="review",
        target_minutes=100,
        at_risk_fraction=0.5,
    )
    task = make_task(tenant, creator=member_user, task_type="review")
    assert task.sla.at_risk_at - task.sla.started_at == timedelta(minutes=50)


def test_sla_config_crud_needs_manage_sla(tenant, member_user, admin_user):
    with pytest.raises(errors.PermissionDenied):
        services.sla_config_create(tenant=tenant, actor=member_user, service_area="a", task_type="b", target_minutes=5)
    config = services.sla_config_create(
        tenant=tenant, actor=admin_user, service_area="a", task_type="b", target_minutes=5
    )
    with pytest.raises(errors.PermissionDenied):
        services.sla_config_update(tenant=tenant, actor=member_user, config_id=config.pk, target_minutes=9)
    assert (
        services.sla_config_update(
            tenant=tenant, actor=admin_user, config_id=config.pk, target_minutes=9
        ).target_minutes
        == 9
    )
    with pytest.raises(errors.PermissionDenied):
        services.sla_config_delete(tenant=tenant, actor=member_user, config_id=config.pk)
    services.sla_config_delete(tenant=tenant, actor=admin_user, config_id=config.pk)
    assert not SLAConfig.objects.filter(pk=config.pk).exists()


def test_global_defaults_cannot_be_changed_through_a_tenant(tenant, admin_user):
    default = SLAConfig.objects.get(tenant__isnull=True, task_type="intake")
    with pytest.raises(errors.NotFound):
        services.sla_config_update(tenant=tenant, actor=admin_user, config_id=default.pk, target_minutes=1)


def test_beat_schedule_runs_scan_every_interval(settings):
    import importlib

    from workflow import schedule

    settings.SLA_MONITOR_INTERVAL = 42
    importlib.reload(schedule)
    entry = schedule.BEAT_SCHEDULE["workflow.scan_sla"]
    assert entry["task"] == "workflow.scan_sla" and entry["schedule"] == timedelta(seconds=42)


def test_scan_task_runs_the_scan(tenant, member_user):
    from workflow.tasks import scan_sla

    _age(make_task(tenant, creator=member_user, task_type="intake"), 61)
    assert scan_sla() == {"breached": 1, "at_risk": 0}


def test_sla_config_update_to_existing_pair_is_conflict(tenant, admin_user):
    services.sla_config_create(tenant=tenant, actor=admin_user, service_area="a", task_type="a", target_minutes=5)
    other = services.sla_config_create(
        tenant=tenant, actor=admin_user, service_area="b", task_type="b", target_minutes=5
    )
    with pytest.raises(errors.Conflict):
        services.sla_config_update(tenant=tenant, actor=admin_user, config_id=other.pk, service_area="a", task_type="a")
