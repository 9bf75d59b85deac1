"""Reachability checks that turn a stopped service into one clear error naming it and its address."""

from __future__ import annotations

import socket
import time


class ServiceUnavailableError(RuntimeError):
    """A service ShopFlow needs does not answer at the address it was told to use."""

    def __init__(self, service: str, address: str, hint: str | None = None):
        self.service = service
        self.address = address
        message = f"{service} is not reachable at {address}"
        message += (
            f": {hint}" if hint else ": start it with `shopflow services up` or check its settings in .env"
        )
        super().__init__(message)


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """`host:port`, `scheme://host:port/...` or `host` -> (host, port)."""
    hostport = address.split("://", 1)[-1].split("/", 1)[0].split(",", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host:
        return hostport, default_port
    return host, int(port)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_reachable(service: str, address: str, default_port: int, timeout: float = 2.0) -> None:
    """Raise ServiceUnavailableError unless a TCP connection to the address succeeds within `timeout`."""
    host, port = split_address(address, default_port)
    deadline = time.monotonic() + timeout
    while True:
        if port_open(host, port, timeout=min(1.0, timeout)):
            return
        if time.monotonic() >= deadline:
            raise ServiceUnavailableError(service, f"{host}:{port}")
        time.sleep(0.2)
