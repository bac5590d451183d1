"""The production ASGI application (``ocx.asgi``) served by a real uvicorn: API calls, the error
envelope and the async SSE view behave as under the test clients."""

import threading
import time

import httpx
import pytest
from django.db import transaction

from activity_feed.publish import publish
from tests.factories import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_calls_and_errors_through_the_real_server(asgi_server, member_user):
    token = token_for(member_user)
    with httpx.Client(base_url=asgi_server, timeout=10) as client:
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        malformed = client.post(
            "/api/v1/events",
            content=b"{not json",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        anonymous = client.get("/api/v1/auth/me")

    assert me.status_code == 200 and me.json()["username"] == member_user.username
    assert malformed.status_code == 400 and malformed.json()["error_code"] == "MALFORMED_REQUEST"
    assert anonymous.status_code == 401 and anonymous.json()["success"] is False


def test_sse_stream_through_the_real_server_delivers_a_committed_event(asgi_server, member_user, tenant):
    token = token_for(member_user)
    lines: list[str] = []
    connected = threading.Event()
    delivered = threading.Event()

    def listen():
        with httpx.Client(base_url=asgi_server, timeout=15) as client:
            with client.stream("GET", f"/api/v1/events/stream?token={token}") as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    lines.append(line)
                    if "connected" in line:
                        connected.set()
                    if line.startswith("id:") and line != "id:":
                        delivered.set()
                        return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert connected.wait(10), lines
    time.sleep(0.2)  # subscribed: the hub has joined the tenant's group
    with transaction.atomic():
        event = publish(tenant=tenant, type="test.stream.checked", title="through uvicorn", actor=member_user)

    assert delivered.wait(10), lines
    assert f"id: {event.pk}" in lines
    reader.join(timeout=5)


@pytest.mark.postgres
@pytest.mark.redis
def test_web_process_of_the_procfile_stops_on_sigterm_despite_an_open_sse_stream(member_user):
    # An SSE stream never ends by itself: without a bound on graceful shutdown, a restart would
    # wait for ever. The Procfile's own web command must close it after the grace period.
    import signal
    import subprocess
    from pathlib import Path

    from tests.conftest import free_port, process_env

    root = Path(__file__).resolve().parents[2]
    web = next(
        line.split(":", 1)[1].strip()
        for line in (root / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    token = token_for(member_user)
    port = free_port()
    env = process_env(PORT=str(port), WEB_CONCURRENCY="1", OCX_SHUTDOWN_GRACE_SECONDS="2")
    proc = subprocess.Popen(["bash", "-c", f"exec {web}"], cwd=root, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the web process did not start"
            time.sleep(0.2)
        connected = threading.Event()

        def listen():
            try:
                with httpx.Client(base_url=base, timeout=30) as client:
                    with client.stream(
                        "GET", "/api/v1/events/stream", headers={"Authorization": f"Token {token}"}
                    ) as r:
                        for line in r.iter_lines():
                            if line.startswith(": connected"):
                                connected.set()
            except httpx.HTTPError:
                pass  # the server closed the stream: what a client then does is reconnect

        threading.Thread(target=listen, daemon=True).start()
        assert connected.wait(10)

        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        assert time.monotonic() - stopped_at < 12
    finally:
        if proc.poll() is None:
            proc.kill()
