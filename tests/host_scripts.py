"""Running a rendered host script on this machine, with stand-ins for the host's tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_with_stand_ins(script: str, bin_dir: Path, state: Path) -> subprocess.CompletedProcess[str]:
    """Runs ``script`` with bash; the stand-in tools in ``bin_dir`` come first on PATH (then this
    Python's, for scripts the host runs with python3) and keep their answers under $STATE."""
    return subprocess.run(
        ["bash", "-s"],
        input=script,
        env={"PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin", "STATE": str(state)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
