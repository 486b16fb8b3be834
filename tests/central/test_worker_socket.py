"""The listening socket each `central run --workers N` process serves on."""

from __future__ import annotations

import asyncio
import socket

from central.cli import worker_socket
from tests.services import free_tcp_port


async def test_a_workers_connections_send_small_answers_at_once_tcp_nodelay() -> None:
    """asyncio switches Nagle's algorithm off only on sockets whose proto is TCP; a socket made with proto 0 left it
    on, and each small answer then waited for the client's delayed ACK (40 ms)."""
    port = free_tcp_port()
    first, second = worker_socket("127.0.0.1", port), worker_socket("127.0.0.1", port)  # two workers, one port
    nodelay: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted: socket.socket = transport.get_extra_info("socket")
            nodelay.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(Probe, sock=sock) for sock in (first, second)]
    try:
        for _ in range(4):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
        for _ in range(100):
            if len(nodelay) == 4:
                break
            await asyncio.sleep(0.01)
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
    assert len(nodelay) == 4
    assert all(nodelay), nodelay
