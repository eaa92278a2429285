"""The Amazon SNS sink, behind the optional extra ``aws`` (boto3, imported lazily)."""

from __future__ import annotations

import json
from typing import Any, ClassVar, cast

from pydantic import Field, field_validator

from qos_ml._errors import ConfigError
from qos_ml.sinks._base import Message, Sink, SinkSettings, register_sink

__all__ = ["SnsSink"]

#: SNS limits: a subject of at most 100 printable characters, a 256 KiB body.
_SUBJECT_LIMIT = 100
_BODY_LIMIT = 256 * 1024


class _SnsSettings(SinkSettings):
    topic_arn: str
    region: str | None = None
    endpoint_url: str | None = Field(
        default=None, description="A local SNS endpoint (tests, LocalStack)."
    )

    @field_validator("topic_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not value.startswith("arn:") or value.count(":") < 5:
            raise ValueError("an SNS topic ARN, arn:aws:sns:<region>:<account>:<topic>")
        return value


@register_sink
class SnsSink(Sink):
    """Publish each message to an Amazon SNS topic (the original solution's path).

    Needs ``pip install 'qos-ml[aws]'``; boto3 is imported when the first
    message is sent, so building the sink works without it. Credentials come
    from boto3's usual chain, never from qos_ml settings.

    Parameters
    ----------
    topic_arn : str
    region : str, optional
        Default: the topic ARN's region.
    endpoint_url : str, optional
        Another SNS endpoint (LocalStack in tests).
    max_attempts, backoff_s, backoff_max_s
        See :class:`SinkSettings`.
    """

    name = "sns"
    Settings: ClassVar[type[SinkSettings]] = _SnsSettings

    @property
    def _settings(self) -> _SnsSettings:
        return cast(_SnsSettings, self.settings)

    def __init__(self, **settings: object) -> None:
        super().__init__(**settings)
        self._client: Any = None

    def publish_arguments(self, message: Message) -> dict[str, Any]:
        """Return the keyword arguments of ``sns.publish`` for a message."""
        settings = self._settings
        body = json.dumps(message.body(), sort_keys=True, default=str)
        if len(body.encode()) > _BODY_LIMIT:
            raise ConfigError(
                "sinks.sns.message", f"{len(body.encode())} bytes", "at most 256 KiB"
            )
        attributes = {"kind": message.kind, **message.attributes}
        return {
            "TopicArn": settings.topic_arn,
            "Subject": message.subject(limit=_SUBJECT_LIMIT).replace("\n", " "),
            "Message": body,
            "MessageAttributes": {
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
                if value
            },
        }

    def _sns(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError as exc:
                raise ConfigError(
                    "sinks.sns",
                    "boto3 missing",
                    "the optional extra 'aws': pip install 'qos-ml[aws]'",
                ) from exc
            settings = self._settings
            region = settings.region or settings.topic_arn.split(":")[3]
            self._client = boto3.client(
                "sns", region_name=region, endpoint_url=settings.endpoint_url
            )
        return self._client

    def send(self, message: Message) -> None:
        """Publish the message once."""
        self._sns().publish(**self.publish_arguments(message))
