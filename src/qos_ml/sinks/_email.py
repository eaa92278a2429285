"""The e-mail sink: one message per alert over SMTP (standard library)."""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import ClassVar, Literal, cast

from pydantic import Field, SecretStr, field_validator

from qos_ml.sinks._base import Message, Sink, SinkSettings, register_sink

__all__ = ["EmailSink"]


class _EmailSettings(SinkSettings):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @field_validator("sender")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("an e-mail address such as alerts@example.com")
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if "@" not in v]
        if bad:
            raise ValueError(f"e-mail addresses; not addresses: {bad}")
        return value


@register_sink
class EmailSink(Sink):
    """Send each message as a plain-text e-mail over SMTP.

    The subject is :meth:`Message.subject`; the body starts with each alert's
    explanation and ends with the records as JSON.

    Parameters
    ----------
    host : str
    port : int, default 587
    sender : str
    recipients : tuple of str
    tls : {"starttls", "ssl", "none"}, default "starttls"
        ``"none"`` only for a relay on a trusted network (or a test server).
    username, password : str, optional
        SMTP login; the password is never logged.
    timeout_s : float, default 10
    max_attempts, backoff_s, backoff_max_s
        See :class:`SinkSettings`.
    """

    name = "email"
    Settings: ClassVar[type[SinkSettings]] = _EmailSettings

    @property
    def _settings(self) -> _EmailSettings:
        return cast(_EmailSettings, self.settings)

    def build(self, message: Message) -> EmailMessage:
        """Return the e-mail of a message (without sending it)."""
        settings = self._settings
        mail = EmailMessage()
        mail["Subject"] = message.subject(limit=200)
        mail["From"] = settings.sender
        mail["To"] = ", ".join(settings.recipients)
        if message.key:
            mail["X-Qos-Ml-Key"] = message.key
        lines = [str(r["explanation"]) for r in message.records if r.get("explanation")]
        lines += ["", json.dumps(list(message.records), indent=2, sort_keys=True)]
        mail.set_content("\n".join(lines))
        return mail

    def send(self, message: Message) -> None:
        """Connect, optionally secure and log in, and send the e-mail once."""
        settings = self._settings
        mail = self.build(message)
        smtp: smtplib.SMTP
        if settings.tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(
                settings.host, settings.port, timeout=settings.timeout_s
            )
        with smtp:
            if settings.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username and settings.password is not None:
                smtp.login(settings.username, settings.password.get_secret_value())
            smtp.send_message(mail)

    def retryable(self, error: BaseException) -> bool:
        """Retry connection trouble and 4xx SMTP answers; not 5xx refusals."""
        if isinstance(error, smtplib.SMTPResponseException):
            return 400 <= error.smtp_code < 500
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            return False
        return isinstance(error, (OSError, smtplib.SMTPException))
