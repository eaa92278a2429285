"""The webhook sink: a JSON POST, retried with backoff, optionally signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import ClassVar, cast

import requests
from pydantic import Field, SecretStr, field_validator

from qos_ml.sinks._base import Message, Sink, SinkSettings, register_sink

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookSink", "sign_payload"]

SIGNATURE_HEADER = "X-Qos-Ml-Signature"
TIMESTAMP_HEADER = "X-Qos-Ml-Timestamp"
# Client errors that another attempt may cure: request timeout, rate limited.
_RETRYABLE_4XX = frozenset({408, 425, 429})


def sign_payload(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value: ``sha256=<hex HMAC of 'timestamp.body'>``.

    A receiver recomputes it with the shared secret and rejects stale
    timestamps, so a captured request cannot be replayed later.

    Examples
    --------
    >>> sign_payload("s3cret", "1700000000", b"{}")[:7]
    'sha256='
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class _WebhookSettings(SinkSettings):
    url: str = Field(description="http:// or https:// URL receiving the POST.")
    timeout_s: float = Field(default=5.0, gt=0, le=300)
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value


class _HttpStatusError(Exception):
    def __init__(self, status: int, text: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {text[:200]}")


@register_sink
class WebhookSink(Sink):
    """POST each message as JSON to a URL.

    The body is :meth:`Message.body` (``kind``, ``key``, ``records``). The
    alert id travels in an ``Idempotency-Key`` header so a receiver can drop a
    duplicate. With a ``secret`` the request carries a timestamp header and an
    HMAC-SHA256 signature of ``"<timestamp>.<body>"`` (:func:`sign_payload`).

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL.
    timeout_s : float, default 5
        Connect and read timeout of one attempt.
    secret : str, optional
        Shared signing secret; never logged.
    headers : dict, optional
        Extra headers (an ``Authorization`` token, say).
    max_attempts, backoff_s, backoff_max_s
        See :class:`SinkSettings`. Connection errors, timeouts, 5xx, 408 and
        429 are retried; other 4xx answers are not.
    """

    name = "webhook"
    Settings: ClassVar[type[SinkSettings]] = _WebhookSettings

    @property
    def _settings(self) -> _WebhookSettings:
        return cast(_WebhookSettings, self.settings)

    def __init__(self, **settings: object) -> None:
        super().__init__(**settings)
        self._session = requests.Session()

    def request_parts(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """Return the body and headers of the POST for a message."""
        settings = self._settings
        body = json.dumps(message.body(), sort_keys=True, default=str).encode()
        headers = {"Content-Type": "application/json", **settings.headers}
        if message.key:
            headers["Idempotency-Key"] = message.key
        if settings.secret is not None:
            stamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign_payload(
                settings.secret.get_secret_value(), stamp, body
            )
        return body, headers

    def send(self, message: Message) -> None:
        """POST the message once; raise on a connection error or an error status."""
        settings = self._settings
        body, headers = self.request_parts(message)
        response = self._session.post(
            settings.url, data=body, headers=headers, timeout=settings.timeout_s
        )
        if response.status_code >= 400:
            raise _HttpStatusError(response.status_code, response.text)

    def retryable(self, error: BaseException) -> bool:
        """Retry network failures, 5xx, 408, 425 and 429; not other 4xx."""
        if isinstance(error, _HttpStatusError):
            return error.status >= 500 or error.status in _RETRYABLE_4XX
        return isinstance(error, requests.RequestException)
