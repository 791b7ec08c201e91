"""The supervisor of one machine: runs systemd-nspawn, boots the machine again when it rebooted
itself (exit 133), and ends when nspawn ends otherwise or when it gets SIGTERM (then it passes
SIGTERM to nspawn: a clean poweroff). Started by :func:`localhosts.machine.start`.

    python -m localhosts.supervisor [--daemonize] STATE_DIR/spec.json
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from localhosts.machine import REBOOT_EXIT_STATUS, MachineSpec, nspawn_argv, nspawn_env
from localhosts.system import pid_alive

STARTUP_TIMEOUT_SECONDS = 10


def _write(path: Path, value: object) -> None:
    staged = path.with_name(path.name + ".new")
    with contextlib.suppress(OSError):  # a crashed test run's cleanup may have removed the directory
        staged.write_text(f"{value}\n")
        staged.replace(path)


def supervise(spec: MachineSpec) -> int:
    """Runs the machine until it powers off or the supervisor gets SIGTERM; returns nspawn's status."""
    state = spec.state_dir
    _write(state / "supervisor.pid", os.getpid())
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    # Enter the machine's cgroups, then exec nspawn (same PID), so the machine is accounted there
    # from its very first page.
    procs = " ".join(shlex.quote(str(cg / "cgroup.procs")) for cg in spec.cgroups.values())
    enter = f'for f in {procs}; do echo $$ > "$f"; done; exec "$@"'
    boots = 0
    status = 0
    while not stopping:
        boots += 1
        print(f"\n==== boot {boots} of {spec.name} at {time.ctime()} ====", flush=True)
        child = subprocess.Popen(
            ["sh", "-c", enter, "sh", *nspawn_argv(spec)], stdin=subprocess.DEVNULL, env=nspawn_env(), cwd="/"
        )
        _write(state / "nspawn.pid", child.pid)
        _write(state / "boots", boots)
        if stopping:  # SIGTERM came between the loop test and Popen
            os.kill(child.pid, signal.SIGTERM)
        status = child.wait()
        _write(state / "exit-status", status)
        if status != REBOOT_EXIT_STATUS:
            break
        print(f"==== {spec.name} rebooted itself (exit {status}) ====", flush=True)
    print(f"==== {spec.name} stopped (exit {status}) ====", flush=True)
    (state / "supervisor.pid").unlink(missing_ok=True)
    return 0


def main(argv: list[str]) -> int:
    daemonize = "--daemonize" in argv
    args = [a for a in argv if a != "--daemonize"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    spec = MachineSpec.from_json(Path(args[0]).read_text())
    if not daemonize:
        return supervise(spec)
    pid = os.fork()
    if pid == 0:  # the supervisor; its parent exits below, so init adopts it
        os._exit(supervise(spec))
    # Wait until the first boot has begun, so the caller finds both PIDs.
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if (spec.state_dir / "nspawn.pid").exists():
            return 0
        if not pid_alive(pid):
            break
        time.sleep(0.02)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
