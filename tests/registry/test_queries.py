"""List endpoints issue a constant number of SQL queries whatever the page size."""

import pytest


def _count(client, path, django_assert_max_num_queries, captured):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    captured.append(len(ctx.captured_queries))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/activities?page_size={n}",
        "/api/v1/approvals/pending?page_size={n}",
        "/api/v1/activities/{id}/deployments",
        "/api/v1/activities/{id}/versions",
        "/api/v1/activities/{id}/executions?limit={n}",
    ],
)
def test_list_query_count_does_not_grow_with_page_size(world, api_client_for, path, django_assert_max_num_queries):
    anchor = world.active(name="Anchor")
    for i in range(30):
        activity = world.create(name=f"Q{i}")
        world.request_all(activity)
        world.deploy(anchor, ["DEV", "STAGING", "PROD"][i % 3])
    for i in range(30):
        from registry import services

        services.execution_record(
            tenant=world.tenant,
            actor=world.creator,
            activity_id=anchor.pk,
            outcome="SUCCESS",
            duration_ms=i,
            deployment_id=anchor.deployments.filter(status="ACTIVE", environment="PROD").get().pk,
        )
    client = api_client_for(world.viewer)
    counts = []
    for n in (1, 30):
        _count(client, path.format(n=n, id=anchor.pk), django_assert_max_num_queries, counts)

    assert counts[0] == counts[1], counts
