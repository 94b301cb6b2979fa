"""The support scenario: auth, scheduler, crons, outbound HTTP, file storage, webhooks."""

import base64
import hashlib
import json

import pytest

from convex_sim import ConvexError, ConvexSim
from convex_sim.auth import TestIssuer
from convex_sim.files import UPLOAD_URL_TTL_MS
from scenarios.support.ai import SUMMARIZER_URL
from scenarios.support.http import sign
from scenarios.support.schema import schema
from scenarios.support.tickets import REMINDER_DELAY_MS

DAY_MS = 24 * 3600 * 1000


@pytest.fixture(scope="module")
def issuer():
    return TestIssuer(domain="https://auth.support.test", application_id="support")


@pytest.fixture
def desk(issuer, respx_mock):
    respx_mock.post(SUMMARIZER_URL).respond(json={"summary": "summarized"})
    sim = ConvexSim(schema, modules="scenarios.support", auth_providers=[issuer.provider], seed=5)
    ada = sim.with_token(issuer.token("ada", email="ada@example.com", expires_in_s=30 * 24 * 3600))
    return sim, ada


def test_creating_needs_a_valid_token(desk, issuer):
    sim, _ = desk
    with pytest.raises(ConvexError) as error:
        sim.mutation("tickets:create", {"subject": "s", "body": "b"})
    assert error.value.data == {"code": "UNAUTHENTICATED"}


def test_summary_comes_from_the_external_api_mocked_with_respx(desk, respx_mock):
    sim, ada = desk
    ticket = ada.mutation("tickets:create", {"subject": "Printer", "body": "It is on fire"})
    assert sim.query("tickets:get", {"ticket": ticket})["summary"] is None
    assert sim.finish_in_progress_scheduled_functions() == 1
    assert sim.query("tickets:get", {"ticket": ticket})["summary"] == "summarized"
    (call,) = respx_mock.calls
    assert json.loads(call.request.content) == {"text": "It is on fire"}


def test_external_api_failure_marks_the_job_failed(desk, respx_mock):
    sim, ada = desk
    respx_mock.post(SUMMARIZER_URL).respond(status_code=503)
    ticket = ada.mutation("tickets:create", {"subject": "s", "body": "b"})
    sim.finish_in_progress_scheduled_functions(allow_failures=True)
    summary_job = next(j for j in sim.scheduled() if j["name"] == "ai:summarize")
    assert summary_job["state"]["kind"] == "failed" and "503" in summary_job["state"]["error"]
    assert sim.query("tickets:get", {"ticket": ticket})["summary"] is None


def test_reminder_fires_after_a_day_unless_closed(desk):
    sim, ada = desk
    kept = ada.mutation("tickets:create", {"subject": "a", "body": "a"})
    closed = ada.mutation("tickets:create", {"subject": "b", "body": "b"})
    ada.mutation("tickets:close", {"ticket": closed})
    sim.advance_time(REMINDER_DELAY_MS - 1)
    assert sim.query("tickets:get", {"ticket": kept})["reminded"] is False
    sim.advance_time(1)
    assert sim.query("tickets:get", {"ticket": kept})["reminded"] is True
    assert sim.query("tickets:get", {"ticket": closed})["reminded"] is False
    states = sorted(j["state"]["kind"] for j in sim.scheduled() if j["name"] == "tickets:remind")
    assert states == ["canceled", "success"]


def test_upload_flow_end_to_end(desk):
    sim, ada = desk
    ticket = ada.mutation("tickets:create", {"subject": "s", "body": "b"})
    data = b"%PDF-1.7 screenshot bytes"
    upload_url = ada.mutation("tickets:generate_upload_url", {})
    response = sim.fetch(upload_url, method="POST", content=data, headers={"Content-Type": "application/pdf"})
    assert response.status_code == 200
    storage_id = response.json()["storageId"]
    ada.mutation("tickets:attach", {"ticket": ticket, "storage_id": storage_id})
    file_url = sim.query("tickets:get", {"ticket": ticket})["attachment_url"]
    served = sim.fetch(file_url)
    assert served.status_code == 200 and served.content == data
    assert served.headers["Content-Type"] == "application/pdf"
    row = sim.run(lambda ctx: ctx.db.system.get(storage_id))
    assert row["sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert row["size"] == len(data)
    assert sim.run(lambda ctx: ctx.storage.get_metadata(storage_id))["content_type"] == "application/pdf"


def test_upload_urls_are_single_use_and_expire(desk):
    sim, ada = desk
    url = ada.mutation("tickets:generate_upload_url", {})
    assert sim.fetch(url, method="POST", content=b"one").status_code == 200
    reused = sim.fetch(url, method="POST", content=b"two")
    assert reused.status_code == 400 and reused.json()["code"] == "InvalidUploadToken"
    late = ada.mutation("tickets:generate_upload_url", {})
    sim.advance_time(UPLOAD_URL_TTL_MS + 1)
    expired = sim.fetch(late, method="POST", content=b"three")
    assert expired.status_code == 400 and expired.json()["code"] == "ExpiredUploadToken"


def email(message_id="m-1"):
    return json.dumps({"message_id": message_id, "from": "bob@example.com",
                       "subject": "Refund", "text": "Please refund order 7"}).encode()


def test_webhook_verifies_the_hmac_signature_and_writes_through_a_mutation(desk):
    sim, _ = desk
    body = email()
    forged = sim.fetch("/webhooks/email", method="POST", content=body, headers={"X-Signature": "sha256=00"})
    assert forged.status_code == 401
    assert sim.run(lambda ctx: ctx.db.query("tickets").collect()) == []
    ok = sim.fetch("/webhooks/email", method="POST", content=body, headers={"X-Signature": sign(body)})
    assert ok.status_code == 200
    again = sim.fetch("/webhooks/email", method="POST", content=body, headers={"X-Signature": sign(body)})
    assert again.json() == ok.json()  # redelivery is idempotent
    tickets = sim.run(lambda ctx: ctx.db.query("tickets").collect())
    assert [(t["requester"], t["subject"]) for t in tickets] == [("bob@example.com", "Refund")]


def test_public_status_route_cors_and_unknown_routes(desk):
    sim, ada = desk
    ticket = ada.mutation("tickets:create", {"subject": "s", "body": "b"})
    assert sim.fetch(f"/tickets/{ticket}").json() == {"status": "open", "summary": None}
    preflight = sim.fetch(f"/tickets/{ticket}", method="OPTIONS")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET"
    missing = sim.fetch("/nothing/here", method="POST")
    assert missing.status_code == 404 and missing.text == "No HttpAction routed for /nothing/here"


def test_daily_digest_cron_over_a_week(desk):
    sim, ada = desk
    ada.mutation("tickets:create", {"subject": "s", "body": "b"})
    sim.advance_time(3 * DAY_MS)
    second = ada.mutation("tickets:create", {"subject": "t", "body": "c"})
    ada.mutation("tickets:close", {"ticket": second})
    sim.advance_time(4 * DAY_MS)
    assert sim.query("tickets:digests", {}) == [  # values cross the boundary as Convex arrays
        ["2024-01-01", 1], ["2024-01-02", 1], ["2024-01-03", 1],
        ["2024-01-04", 1], ["2024-01-05", 1], ["2024-01-06", 1], ["2024-01-07", 1]]
