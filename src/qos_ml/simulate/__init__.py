"""Simulate viewers watching adaptive-bitrate video through a CDN.

:func:`simulate` plays sessions segment by segment over real or generated
throughput traces and writes, in the real input formats, what a platform
would collect, plus the ground truth that produced it. :func:`replay` emits
a finished simulation into a landing folder at a given pace for streaming
jobs.

Output layout (under the output folder)::

    player_events/part-XXXXX.jsonl        player SDK events, JSON lines
    cloudfront_standard/<dist>.<YYYY-MM-DD-HH>.<id>.gz
                                          CloudFront standard logs (header,
                                          33 fields; 26 with legacy_layout)
    cloudfront_realtime/part-XXXXX.log    CloudFront real-time lines, default
                                          field order, CMCD fields, no header
    ground_truth/sessions.jsonl           per session: outcome, stalls,
                                          start-up time, failure cause,
                                          incidents
    ground_truth/incidents.jsonl          per incident: kind, scope, window,
                                          sessions and request ids touched
    manifest.json                         seed, parameters, counts

Every file is written in time order and under a hidden temporary name until
complete. A player event's ``cdn_tracking_id`` is the ``x-edge-request-id``
of a CDN line of the same session; ``session_id`` is the CMCD ``sid``.
"""

from __future__ import annotations

from qos_ml.simulate._config import (
    CorruptedAsset,
    DeviceFailure,
    EdgeDegradation,
    Incident,
    IspCongestion,
    OriginOutage,
    SimulationConfig,
    load_incidents,
)
from qos_ml.simulate._replay import ReplaySummary, replay
from qos_ml.simulate._simulate import SimulationSummary, default_incidents, simulate
from qos_ml.simulate._traces import (
    TRACE_MODELS,
    Trace,
    TraceModel,
    calibrate_trace_model,
    generate_traces,
    load_traces,
)
from qos_ml.simulate._truth import INCIDENT_DIMENSIONS, incident_truth

__all__ = [
    "INCIDENT_DIMENSIONS",
    "TRACE_MODELS",
    "CorruptedAsset",
    "DeviceFailure",
    "EdgeDegradation",
    "Incident",
    "IspCongestion",
    "OriginOutage",
    "ReplaySummary",
    "SimulationConfig",
    "SimulationSummary",
    "Trace",
    "TraceModel",
    "calibrate_trace_model",
    "default_incidents",
    "generate_traces",
    "incident_truth",
    "load_incidents",
    "load_traces",
    "replay",
    "simulate",
]
