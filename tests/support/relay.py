"""A TCP relay that loses, holds or resets the S3 server under a client, on cue."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

# SO_LINGER on, 0 s: close() sends a RST instead of a FIN.
LINGER_RESET = struct.pack("ii", 1, 0)


class Relay:
    """A TCP relay 127.0.0.1:port → 127.0.0.1:upstream that counts request bytes.

    Once `threshold` bytes went upstream it holds all request traffic, calls
    `on_threshold(relay)` once (in its own thread), then lets traffic flow again: whatever the
    action takes (a `docker pause` can take a while), it lands at that point of the upload.
    Until `cut()` it relays faithfully, with no timeouts of its own (a frozen upstream stays
    frozen for the client). `cut()` makes the server vanish for the client: open connections
    are reset and the port stops listening, while the upstream keeps its state for the test.
    """

    def __init__(
        self, upstream: int, threshold: int, on_threshold: Callable[[Relay], None]
    ) -> None:
        self.upstream = upstream
        self.threshold = threshold
        self.on_threshold = on_threshold
        self.sent = 0
        self._fired = threading.Event()
        self.acted = threading.Event()
        self.action_error: Exception | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._spawn(self._accept)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        with self._listener:
            while not self._cut.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                try:
                    server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                except OSError:
                    client.close()
                    continue
                pair = (client, server)
                for sock in pair:
                    sock.settimeout(None)
                with self._lock:
                    self._sockets += pair
                ends = threading.Semaphore(0)  # released by each direction when it is done
                self._spawn(self._pump, client, server, True, ends)
                self._spawn(self._pump, server, client, False, ends)

    def _pump(
        self, src: socket.socket, dst: socket.socket, upstream: bool, ends: threading.Semaphore
    ) -> None:
        try:
            while not self._cut.is_set():
                # select, not a socket timeout: a timeout would also bound dst.sendall().
                if not select.select([src], [], [], 0.1)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    break
                if upstream:
                    self._flowing.wait()
                    if self._cut.is_set():
                        break
                dst.sendall(data)
                if upstream:
                    self._count(len(data))
        except OSError:
            pass
        ends.release()
        if upstream:  # the client-side pump closes the pair once both directions are done
            ends.acquire()
            ends.acquire()
            src.close()
            dst.close()

    def _count(self, n: int) -> None:
        with self._lock:
            self.sent += n
            fire = self.sent >= self.threshold and not self._fired.is_set()
            if fire:
                self._fired.set()
        if fire:
            self._flowing.clear()
            self._spawn(self._act)

    def _act(self) -> None:
        try:
            self.on_threshold(self)
        except Exception as exc:  # reported by the test, not lost in a thread
            self.action_error = exc
        finally:
            self.acted.set()
            self._flowing.set()

    def cut(self) -> None:
        self._cut.set()
        self._flowing.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                # Linger 0: the close that follows sends RST, as a crashed server's kernel would;
                # shutdown wakes a pump blocked in sendall.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.cut()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30)
