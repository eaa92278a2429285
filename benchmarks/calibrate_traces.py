"""Recompute the trace-generator calibration (TRACE_MODELS) from the real traces.

Run: ``.venv/bin/python benchmarks/calibrate_traces.py [../shared/data/traces]``.
Prints, per profile, the measured parameters next to the constants in code, and
the same statistics measured back on generated traces.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

from qos_ml.simulate._traces import (
    TRACE_MODELS,
    calibrate_trace_model,
    generate_traces,
    load_traces,
)

FOLDERS = {"cellular": "norway_hsdpa", "fixed": "fcc", "mixed": "oboe"}


def main() -> None:
    root = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else (Path(__file__).resolve().parents[2] / "shared" / "data" / "traces")
    )
    if not root.is_dir():
        print(f"no traces at {root}; see shared/data/MANIFEST.md")
        return
    for profile, folder in FOLDERS.items():
        started = time.perf_counter()
        traces = load_traces(root / folder)
        measured = calibrate_trace_model(traces)
        generated = calibrate_trace_model(
            generate_traces(TRACE_MODELS[profile], 200, seed=1, profile=profile)
        )
        print(
            f"{profile} ({folder}, {len(traces)} traces, "
            f"{time.perf_counter() - started:.1f} s)"
        )
        print(f"  measured : {measured!r}")
        print(f"  in code  : {TRACE_MODELS[profile]!r}")
        print(f"  generated: {generated!r}")
        print(f"  as dict  : {asdict(measured)}")


if __name__ == "__main__":
    main()
