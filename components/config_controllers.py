"""Stack config -> where master-slave-auto's controllers run: inside the name servers (the default),
or on hosts of their own (`controllers` on aws and local, `controller: true` hosts on hosts)."""

from __future__ import annotations

from components import config_checks as check
from components.config import _Reader
from components.config_checks import ConfigError
from components.config_model import HostSpec, Mode

# Controllers on hosts of their own: target local gives each its own ports, for up to 9.
MAX_CONTROLLERS = 9


def parse_controllers(r: _Reader, *, mode: Mode, target: str, hosts: tuple[HostSpec, ...], name_servers: int) -> int:
    """How many controllers run on hosts of their own; 0: one inside each name server."""
    raw = r.get("controllers", 0)
    try:
        requested = check.integer("controllers", raw, 0, MAX_CONTROLLERS)
    except ConfigError:
        raise ConfigError(
            "controllers",
            f"must be 0 (a controller in each name server) or the number of controllers on hosts of their "
            f"own, 1 or odd up to {MAX_CONTROLLERS}; got {raw!r}",
        ) from None
    placed = [i for i, spec in enumerate(hosts) if spec.controller]
    if not mode.elects_masters:
        if placed:
            raise ConfigError(
                f"hosts[{placed[0]}].controller",
                f"runs a controller, which only master-slave-auto has (controllers elect the masters); mode is {mode.value}",
            )
        if requested != 0:
            raise ConfigError("controllers", f"is only for mode master-slave-auto; mode is {mode.value}")
        if r.get("controllerHeap", "auto") != "auto":
            raise ConfigError("controllerHeap", f"sizes controllers of their own, which mode {mode.value} has none of")
        return 0
    if target == "hosts":
        if requested != 0:
            raise ConfigError(
                "controllers", "is for target aws and local; on hosts, set controller: true on the controller hosts"
            )
        count = len(placed)
    else:
        count = requested
    if count == 0:
        if r.get("controllerHeap", "auto") != "auto":
            raise ConfigError(
                "controllerHeap",
                "sizes controllers on hosts of their own; the controllers run inside the name servers "
                "(their heap is nameServerHeap)",
            )
        if name_servers % 2 == 0:
            raise ConfigError(
                "nameServers",
                f"must be odd in {mode.value} mode: each name server runs a controller, and an even number of "
                f"controllers rides out no more failures than one fewer; got {name_servers} (3 is the default)",
            )
        return 0
    if count % 2 == 0:
        key = "hosts" if target == "hosts" else "controllers"
        raise ConfigError(
            key,
            f"{count} controllers: must be 1 or an odd number (3 rides out one failure, 5 two); an even "
            "number rides out no more failures than one fewer",
        )
    return count
