"""Resolve the Delta jar once at setup time: ``python -m qos_ml.cli._prefetch``."""

from __future__ import annotations

import sys
import time

from qos_ml._errors import SparkSetupError
from qos_ml._spark import ensure_delta_jar

if __name__ == "__main__":
    started = time.perf_counter()
    try:
        coordinate = ensure_delta_jar()
    except SparkSetupError as exc:
        sys.exit(str(exc))
    print(f"Delta jar {coordinate} is resolved ({time.perf_counter() - started:.0f} s)")
