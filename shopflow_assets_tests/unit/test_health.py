import socket

import pytest

from shopflow_assets.devstack.health import ServiceUnavailableError, require_reachable, split_address

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9092", ("127.0.0.1", 9092)),
        ("http://127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("kafka:19092,kafka2:19092", ("kafka", 19092)),
        ("minio", ("minio", 1234)),
    ],
)
def test_split_address(address, expected):
    assert split_address(address, 1234) == expected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_closed_port_names_service_and_address():
    port = _closed_port()
    with pytest.raises(ServiceUnavailableError) as excinfo:
        require_reachable("Kafka", f"127.0.0.1:{port}", 9092, timeout=0.3)
    assert str(excinfo.value).startswith(f"Kafka is not reachable at 127.0.0.1:{port}")


def test_open_port_passes():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        require_reachable("test", f"127.0.0.1:{server.getsockname()[1]}", 1, timeout=1)
