"""Webhook, e-mail and SNS sinks against real loopback servers; delivery; publish."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from conftest import free_port, sample_alert
from qos_ml import ConfigError, PluginError, SinkError
from qos_ml.sinks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryError,
    EmailSink,
    MemoryDeliveryLog,
    Message,
    SinkPluginWarning,
    SinkRegistry,
    SnsSink,
    WebhookSink,
    deliver_alerts,
    publish,
    sinks,
)

NO_SLEEP = {"sleep": lambda _seconds: None}


def test_webhook_posts_signed_json_once(http_server) -> None:
    url, server = http_server
    sink = WebhookSink(url=url, secret="s3cret-key", headers={"X-Team": "noc"})
    attempts = sink.deliver(Message.alert(sample_alert()))
    assert attempts == 1
    (request,) = server.requests
    body = json.loads(request["body"])
    assert body["kind"] == "alert"
    assert body["records"][0]["scope"] == {"edge_location": "FRA53"}
    assert body["records"][0]["window_start"] == "2024-05-01T12:00:00Z"
    headers = request["headers"]
    assert headers["Idempotency-Key"] == "a" * 32
    assert headers["X-Team"] == "noc"
    expected = hmac.new(
        b"s3cret-key",
        headers[TIMESTAMP_HEADER].encode() + b"." + request["body"],
        hashlib.sha256,
    ).hexdigest()
    assert headers[SIGNATURE_HEADER] == "sha256=" + expected


def test_webhook_retries_500_then_succeeds(http_server) -> None:
    url, server = http_server
    server.script = [500, 200]
    sink = WebhookSink(url=url, backoff_s=0.01)
    assert sink.deliver(Message.alert(sample_alert())) == 2
    assert [r["status"] for r in server.requests] == [500, 200]


def test_webhook_does_not_retry_client_errors(http_server) -> None:
    url, server = http_server
    server.script = [400]
    sink = WebhookSink(url=url, backoff_s=0.01)
    with pytest.raises(
        DeliveryError, match=r"1 attempt\(s\) \(not retried\).*HTTP 400"
    ):
        sink.deliver(Message.alert(sample_alert()))
    assert len(server.requests) == 1


def test_webhook_times_out_and_reports_attempts(http_server) -> None:
    url, server = http_server
    server.script = [1.5, 1.5]
    sink = WebhookSink(url=url, timeout_s=0.2, max_attempts=2)
    with pytest.raises(DeliveryError, match=r"after 2 attempt\(s\).*Timeout") as info:
        sink.deliver(Message.alert(sample_alert()), **NO_SLEEP)
    assert info.value.attempts == 2
    assert isinstance(info.value, SinkError)


def test_webhook_refused_port_fails_after_retries() -> None:
    sink = WebhookSink(url=f"http://127.0.0.1:{free_port()}/x", max_attempts=3)
    with pytest.raises(DeliveryError, match=r"after 3 attempt\(s\): ConnectionError"):
        sink.deliver(Message.alert(sample_alert()), **NO_SLEEP)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"url": "ftp://x"}, r"sinks\.webhook\.url.*'ftp://x'.*http"),
        ({"url": "http://x", "timeout_s": 0}, r"sinks\.webhook\.timeout_s.*0"),
        ({"url": "http://x", "max_attempts": 0}, r"sinks\.webhook\.max_attempts"),
        ({"url": "http://x", "secret": 5}, r"sinks\.webhook\.secret.*<hidden>"),
        ({"url": "http://x", "colour": "red"}, r"sinks\.webhook\.colour"),
    ],
)
def test_webhook_settings_are_validated(settings, match) -> None:
    with pytest.raises(ConfigError, match=match):
        WebhookSink(**settings)


def test_email_arrives_at_a_real_smtp_server(smtp_server) -> None:
    port, received = smtp_server
    sink = EmailSink(
        host="127.0.0.1",
        port=port,
        sender="alerts@example.com",
        recipients=("noc@example.com",),
        tls="none",
    )
    sink.deliver(Message.alert(sample_alert()))
    (envelope,) = received
    assert envelope.rcpt_tos == ["noc@example.com"]
    text = envelope.content.decode()
    assert "Subject: [qos_ml critical] cdn_5xx_rate on edge_location=FRA53" in text
    assert "12.0% of CDN requests got a 5xx answer" in text


def test_email_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"sinks\.email\.recipients.*not-an-address"):
        EmailSink(host="h", sender="a@b.c", recipients=("not-an-address",))
    with pytest.raises(ConfigError, match=r"sinks\.email\.tls.*'tls1'"):
        EmailSink(host="h", sender="a@b.c", recipients=("x@y.z",), tls="tls1")


def test_delivery_is_idempotent_and_failures_are_recorded_then_retried(
    http_server, smtp_server
) -> None:
    url, server = http_server
    smtp_port, received = smtp_server
    log = MemoryDeliveryLog()
    alerts = [sample_alert("a" * 32), sample_alert("b" * 32)]
    dead_port = free_port()
    email = EmailSink(
        host="127.0.0.1",
        port=dead_port,
        sender="alerts@example.com",
        recipients=("noc@example.com",),
        tls="none",
        max_attempts=2,
        backoff_s=0.0,
    )
    webhook = WebhookSink(url=url)

    report = deliver_alerts(alerts, [webhook, email], log=log)
    assert (report.delivered, report.failed, report.skipped) == (2, 2, 0)
    assert len(server.requests) == 2
    failed = log.rows[("a" * 32, "email")]
    assert failed["status"] == "failed"
    assert failed["attempts"] == 2
    assert "ConnectionRefusedError" in failed["last_error"]

    # A restart replays the same alerts: the webhook is not called again; the
    # e-mail server is back and the failed deliveries go through.
    email_back = EmailSink(
        host="127.0.0.1",
        port=smtp_port,
        sender="alerts@example.com",
        recipients=("noc@example.com",),
        tls="none",
    )
    again = deliver_alerts(alerts, [webhook, email_back], log=log)
    assert (again.delivered, again.failed, again.skipped) == (2, 0, 2)
    assert len(server.requests) == 2
    assert len(received) == 2
    assert log.rows[("a" * 32, "email")]["attempts"] == 3
    assert log.failed() == set()


def test_delivery_needs_alert_ids() -> None:
    with pytest.raises(ConfigError, match=r"alert_id.*rows \[0\]"):
        deliver_alerts([{"rule": "x"}], [])


def test_sns_names_the_missing_extra_and_builds_its_payload() -> None:
    sink = SnsSink(topic_arn="arn:aws:sns:eu-west-1:123456789012:qos-alerts")
    arguments = sink.publish_arguments(Message.alert(sample_alert(rule="r" * 150)))
    assert arguments["TopicArn"].endswith(":qos-alerts")
    assert len(arguments["Subject"]) == 100
    assert json.loads(arguments["Message"])["records"][0]["alert_id"] == "a" * 32
    assert arguments["MessageAttributes"]["severity"]["StringValue"] == "critical"
    # boto3 is not installed here: delivering names the extra to install.
    try:
        import boto3  # noqa: F401
    except ImportError:
        with pytest.raises(DeliveryError, match=r"optional extra 'aws'.*qos-ml\[aws\]"):
            sink.deliver(Message.alert(sample_alert()), **NO_SLEEP)
    with pytest.raises(ConfigError, match=r"sinks\.sns\.topic_arn.*'my-topic'"):
        SnsSink(topic_arn="my-topic")


def test_publish_sends_rows_in_batches(http_server) -> None:
    url, server = http_server
    rows = [{"video_id": f"v{i}", "recent_viewers": i} for i in range(5)]
    count = publish(rows, "webhook", kind="recent_views", batch_size=2, url=url)
    assert count == 5
    bodies = [json.loads(r["body"]) for r in server.requests]
    assert [len(b["records"]) for b in bodies] == [2, 2, 1]
    assert {b["kind"] for b in bodies} == {"recent_views"}
    with pytest.raises(ConfigError, match=r"batch_size.*0"):
        publish(rows, "webhook", batch_size=0, url=url)


def test_registry_unknown_names_and_dotted_paths() -> None:
    with pytest.raises(
        PluginError, match=r"unknown sink 'pager'.*known sinks:.*webhook"
    ):
        sinks.resolve("pager")
    assert sinks.resolve("qos_ml.sinks:WebhookSink") is WebhookSink
    with pytest.raises(PluginError, match=r"not a subclass of qos_ml.sinks._base.Sink"):
        sinks.resolve("qos_ml.rules:Rule")
    with pytest.raises(PluginError, match=r"could not be imported"):
        sinks.resolve("qos_ml.nowhere.Sink")
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.type"):
        sinks.from_config([{"url": "http://x"}])
    built = sinks.from_config([{"type": "webhook", "url": "http://x"}])
    assert isinstance(built[0], WebhookSink)


def test_broken_sink_plugin_warns_and_the_others_load() -> None:
    registry = SinkRegistry(group="qos_ml_test.broken_sinks")
    with pytest.warns(SinkPluginWarning, match=r"plugin 'broken'.*DoesNotExist"):
        names = registry.names()
    assert names == ["test_list"]


@pytest.mark.parametrize("name", sinks.names())
def test_sink_contract(name: str) -> None:
    """Every registered sink, plugins included, meets the contract."""
    cls = sinks.resolve(name)
    assert cls.name == name
    assert cls.__doc__, f"sink {name} has no docstring"
    with pytest.raises(ConfigError, match=rf"sinks\.{name}\.no_such_setting"):
        cls(no_such_setting=1)
    with pytest.raises(ConfigError, match=rf"sinks\.{name}\.max_attempts"):
        cls(max_attempts=0)
    assert "test_list" in sinks.names()  # the dummy plugin is among them
