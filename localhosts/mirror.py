"""Where a `target: local` stack's machines download the release from, decided at deploy time.

``python -m localhosts mirror start`` probes the configured mirror's ``.sha512`` of the release
with a short timeout. When it answers, that mirror is used. When it does not, and Apache's
release trees are vendored (``../shared/vendor`` or ``$RMQ_VENDOR_DIR``), it builds Apache's
zip the way the e2e tests do (:mod:`localhosts.release_dist`), serves it from a detached
``python -m http.server`` on 127.0.0.1 and says so in one line. It prints the mirror URL to use
(the resource's stdout). ``mirror stop`` stops that server by its PID and removes its files.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from localhosts import release_dist
from localhosts.local_machines import LOOPBACK, LocalTargetError, check_ports_free, remove_empty_parents
from localhosts.system import pid_alive, signal_pid, wait_gone

PROBE_TIMEOUT_SECONDS = 5


def sha512_url(mirror: str, version: str) -> str:
    return f"{mirror.rstrip('/')}/rocketmq/{version}/{release_dist.zip_name(version)}.sha512"


def answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _server_pid(state_dir: Path) -> int | None:
    try:
        pid = int((state_dir / "server.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if pid_alive(pid) and b"http.server" in cmdline and str(state_dir).encode() in cmdline else None


def start(mirror: str, version: str, state_dir: Path, port: int) -> str:
    """The mirror URL the machines should use; starts a local one when ``mirror`` does not answer."""
    if answers(sha512_url(mirror, version)):
        return mirror
    vendor = release_dist.vendor_dir()
    if not vendor.is_dir():
        raise LocalTargetError(
            f"the mirror {mirror} does not answer ({sha512_url(mirror, version)}) and there is no {vendor} "
            "to build the release from: set rocketmq:mirror to a mirror this machine reaches"
        )
    stop(state_dir)
    root = state_dir / "www"
    try:
        dist = release_dist.build_dist(version, out=root)
    except release_dist.DistError as error:
        raise LocalTargetError(
            f"the mirror {mirror} does not answer, and building a local one failed: {error}"
        ) from None
    check_ports_free([("the local release mirror", port)], "this stack")
    with open(state_dir / "server.log", "ab") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK, "--directory", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
        )
    (state_dir / "server.pid").write_text(f"{server.pid}\n")
    local = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 30
    while not answers(sha512_url(local, version), timeout=2):
        if server.poll() is not None or time.monotonic() > deadline:
            stop(state_dir)
            raise LocalTargetError(f"the local release mirror on {local} did not start; see {state_dir}/server.log")
        time.sleep(0.2)
    print(
        f"rocketmq: {mirror} does not answer; serving RocketMQ {version} from a local mirror at {local} "
        f"(Apache's tree from {vendor} with Maven Central's jars, sha512 {dist.sha512[:16]}...)",
        file=sys.stderr,
    )
    return local


def stop(state_dir: Path) -> None:
    """Stops the local mirror's server by its PID (if this stack started one) and removes its files."""
    pid = _server_pid(state_dir)
    if pid is not None:
        signal_pid(pid, signal.SIGTERM)
        if not wait_gone([pid], timeout=10):
            signal_pid(pid, signal.SIGKILL)
            wait_gone([pid], timeout=5)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    remove_empty_parents(state_dir)
