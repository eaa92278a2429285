"""Sinks: where alerts and application updates are delivered.

* :class:`Sink` and the registry :data:`sinks` (built-ins by
  :func:`register_sink`, plugins from the entry-point group ``qos_ml.sinks``);
* built-in sinks: :class:`DeltaSink` (``delta``, always used for the alerts
  table), :class:`WebhookSink` (``webhook``: JSON POST, retries with backoff,
  optional HMAC-SHA256 signature), :class:`EmailSink` (``email``: SMTP) and
  :class:`SnsSink` (``sns``: Amazon SNS, optional extra ``aws``);
* :func:`deliver_alerts`: once per (alert, sink), failures retried then
  recorded in ``alerts.deliveries`` (:class:`DeltaDeliveryLog`);
* :func:`publish`: push a DataFrame or rows to any sink (application updates).
"""

from __future__ import annotations

from qos_ml.sinks._base import (
    ENTRY_POINT_GROUP,
    DeliveryError,
    Message,
    PluginRegistry,
    Sink,
    SinkPluginWarning,
    SinkRegistry,
    SinkSettings,
    jsonable,
    register_sink,
    sinks,
)
from qos_ml.sinks._deliver import (
    DeliveryLog,
    DeliveryReport,
    DeliveryResult,
    DeltaDeliveryLog,
    MemoryDeliveryLog,
    deliver_alerts,
    publish,
)
from qos_ml.sinks._delta import DeltaSink, upsert
from qos_ml.sinks._email import EmailSink
from qos_ml.sinks._sns import SnsSink
from qos_ml.sinks._tables import ALERT_DELIVERIES, ALERT_STATUSES, ALERTS, SEVERITIES
from qos_ml.sinks._webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSink,
    sign_payload,
)

__all__ = [
    "ALERTS",
    "ALERT_DELIVERIES",
    "ALERT_STATUSES",
    "ENTRY_POINT_GROUP",
    "SEVERITIES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DeliveryError",
    "DeliveryLog",
    "DeliveryReport",
    "DeliveryResult",
    "DeltaDeliveryLog",
    "DeltaSink",
    "EmailSink",
    "MemoryDeliveryLog",
    "Message",
    "PluginRegistry",
    "Sink",
    "SinkPluginWarning",
    "SinkRegistry",
    "SinkSettings",
    "SnsSink",
    "WebhookSink",
    "deliver_alerts",
    "jsonable",
    "publish",
    "register_sink",
    "sign_payload",
    "sinks",
    "upsert",
]
