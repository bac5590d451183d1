import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def webhook_source(tenant):
    from tests.activity_feed.factories import IngestionSourceFactory

    return IngestionSourceFactory(
        tenant=tenant, kind="webhook", name="stripe", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )


@pytest.fixture
def hubspot_source(tenant):
    from tests.activity_feed.factories import IngestionSourceFactory

    return IngestionSourceFactory(
        tenant=tenant, kind="hubspot", name="hubspot", secret="yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    )


@pytest.fixture
def salesforce_source(tenant):
    from tests.activity_feed.factories import IngestionSourceFactory

    return IngestionSourceFactory(tenant=tenant, kind="salesforce", name="salesforce")
