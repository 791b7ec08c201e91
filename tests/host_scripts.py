"""Running a rendered host script on this machine, with stand-ins for the host's tools."""

from __future__ import annotations

import os
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


# A stand-in mqadmin that keeps users and grants as a broker does: createUser fails for a user that
# exists, updateUser for one that does not; updateAcl adds or replaces the entry for its resource.
MQADMIN_STAND_IN = r"""#!/bin/bash
set -euo pipefail
command=$1
shift
declare -A opt=()
while (($#)); do opt[$1]=${2:-}; shift 2; done
users=$STATE/users acls=$STATE/acls
touch "$users" "$acls"
echo "$command ${opt[-u]:-${opt[-s]:-}}" >>"$STATE/calls"
case $command in
  createUser)
    if grep -q "^${opt[-u]} " "$users"; then echo "CODE: 17 DESC: user ${opt[-u]} exists"; exit 0; fi
    echo "${opt[-u]} ${opt[-t]} ${opt[-p]}" >>"$users"; echo "create user to ${opt[-b]} success." ;;
  updateUser)
    # As mqadmin: one of -p, -t and -s at a time.
    if [[ -v opt[-p] && -v opt[-t] ]]; then echo "The option 't' was specified but ... 'p'"; exit 0; fi
    if [[ ${opt[-p]:-} == *reject* ]]; then echo "CODE: 1 DESC: cannot take password ${opt[-p]}"; exit 0; fi
    read -r _ type password < <(grep "^${opt[-u]} " "$users") || { echo "CODE: 17 DESC: no such user"; exit 0; }
    grep -v "^${opt[-u]} " "$users" >"$users.new" || true
    echo "${opt[-u]} ${opt[-t]:-$type} ${opt[-p]:-$password}" >>"$users.new"; mv "$users.new" "$users"
    echo "update user to ${opt[-b]} success." ;;
  deleteUser)
    grep -v "^${opt[-u]} " "$users" >"$users.new" || true; mv "$users.new" "$users"
    echo "delete user to ${opt[-b]} success." ;;
  updateAcl)
    grep -vF "${opt[-s]} ${opt[-r]} " "$acls" >"$acls.new" || true
    echo "${opt[-s]} ${opt[-r]} ${opt[-a]} ${opt[-d]}" >>"$acls.new"; mv "$acls.new" "$acls"
    echo "update acl to ${opt[-b]} success." ;;
  deleteAcl)
    grep -vF "${opt[-s]} ${opt[-r]:-}" "$acls" >"$acls.new" || true; mv "$acls.new" "$acls"
    echo "delete acl to ${opt[-b]} success." ;;
  *) echo "unexpected $command"; exit 2 ;;
esac
"""


def mqadmin_stand_ins(tmp_path: Path) -> dict[str, str]:
    """The environment to run a users or admin script in, with MQADMIN_STAND_IN (kept under
    ``tmp_path``) in place of `runuser -u rocketmq -- mqadmin`, and a broker that runs unless
    ``tmp_path/broker-stopped`` exists."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mqadmin-stand-in").write_text(MQADMIN_STAND_IN)
    # runuser -u rocketmq -- <the program's mqadmin> ARGS...: the stand-in instead.
    (bin_dir / "runuser").write_text('#!/bin/bash\nshift 4\nexec mqadmin-stand-in "$@"\n')
    # systemctl is-active --quiet rocketmq-broker.service: running unless $STATE/broker-stopped exists.
    (bin_dir / "systemctl").write_text("#!/bin/bash\n[[ ! -e $STATE/broker-stopped ]]\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(tmp_path)}
