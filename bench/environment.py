"""Where a benchmark figure was measured: the releases of the packages whose arithmetic draws the
topics, and the CPU.

The weekly scenario's topics come from UMAP, HDBSCAN and k-means over transformer vectors. The same
code, data and seeds on another install (other releases from the registry, another CPU's instruction
set) can draw a border elsewhere, and the events flagged follow: on a fresh install the table's
seeds 1-3 gave 15 of 36 events by their week's run where the install that made it gave 20 (bench/WEEKLY.md,
"How much of the table is noise"). A result that does not say where it was measured cannot be
compared with another one.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

# the numeric stack between a message and its topic, then the store and tables the statuses come from
PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "umap-learn",
    "pynndescent",
    "numba",
    "hdbscan",
    "torch",
    "transformers",
    "sentence-transformers",
    "spacy",
    "pandas",
    "duckdb",
)
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # what decides the kernels torch and numba run


def _cpu() -> dict[str, object]:
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    return {"model": model, "flags": [f for f in CPU_FLAGS if f in flags]}


def describe() -> dict[str, object]:
    """Python, the packages' releases (None where one is not installed) and the CPU."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": sys.version.split()[0], "packages": versions, "cpu": _cpu()}
