"""A real single-node Kafka broker (KRaft mode) on loopback, for tests.

The broker, its command-line tools and Spark's Kafka connector are jars that
``make kafka-jars`` copies into ``.venv/kafka`` with Maven. Nothing here is a
stand-in: the broker is Apache Kafka's own ``kafka.Kafka`` in a child JVM, and
records are produced with Kafka's console producer.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JARS = Path(os.environ.get("QOS_ML_TEST_KAFKA_JARS", ROOT / ".venv" / "kafka"))


def missing_reason() -> str | None:
    """Why the Kafka tests cannot run here, or None when they can."""
    for sub in ("broker", "connector"):
        if not any((JARS / sub).glob("*.jar")):
            return f"no Kafka jars in {JARS / sub}: run 'make kafka-jars' (needs Maven)"
    return None


def connector_jars() -> list[str]:
    """Spark's Kafka connector and the jars it needs beyond Spark's own."""
    return sorted(str(p) for p in (JARS / "connector").glob("*.jar"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KafkaBroker:
    """Start, use and stop one broker in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.controller_port = _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            "-Xmx512m",
            "-cp",
            str(JARS / "broker" / "*"),
            main,
            *args,
        ]

    def start(self, timeout_s: float = 90.0) -> None:
        props = self.workdir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://{self.bootstrap},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{self.bootstrap}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,"
                    "CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.workdir / 'data'}",
                    "num.partitions=2",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                ]
            )
            + "\n"
        )
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=")
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id.decode(),
                "-c",
                str(props),
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        log = (self.workdir / "broker.log").open("wb")
        self._process = subprocess.Popen(
            self._java("kafka.Kafka", str(props)), stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    "the Kafka broker exited: "
                    + (self.workdir / "broker.log").read_text()[-2000:]
                )
            try:
                self.topics()
                return
            except subprocess.CalledProcessError:
                time.sleep(1.0)
        raise TimeoutError(f"the Kafka broker did not answer in {timeout_s:.0f} s")

    def topics(self) -> list[str]:
        out = subprocess.run(
            self._java(
                "org.apache.kafka.tools.TopicCommand",
                "--bootstrap-server",
                self.bootstrap,
                "--list",
            ),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.stdout.split()

    def create_topic(self, name: str, partitions: int = 2) -> None:
        subprocess.run(
            self._java(
                "org.apache.kafka.tools.TopicCommand",
                "--bootstrap-server",
                self.bootstrap,
                "--create",
                "--topic",
                name,
                "--partitions",
                str(partitions),
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def produce(self, topic: str, records: list[str]) -> None:
        """Send one record per string (no string may contain a line break)."""
        assert all("\n" not in r for r in records)
        subprocess.run(
            self._java(
                "org.apache.kafka.tools.ConsoleProducer",
                "--bootstrap-server",
                self.bootstrap,
                "--topic",
                topic,
            ),
            input="".join(f"{r}\n" for r in records),
            text=True,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
