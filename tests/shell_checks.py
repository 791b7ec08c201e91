"""shellcheck on rendered scripts: the one check every template test uses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def check_script(tmp_path: Path, name: str, script: str, shell: str = "bash") -> None:
    """``script`` (written to ``tmp_path/name``) passes shellcheck as ``shell``, style level."""
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: scripts/test.sh installs it (requirements-dev.txt)"
    target = tmp_path / name
    target.write_text(script)
    result = subprocess.run([shellcheck, "-s", shell, "-S", "style", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
