"""A filter in front of the Docker socket: the API calls DockerOperator makes, nothing else.

The local stack's task-running container talks to this proxy instead of the engine. Each
request is checked (`decide`) before it is sent on; a refused one gets a 403 whose message
says why, which docker-py raises as an APIError. What passes:

* ping and version (docker-py's handshake), image list/inspect and pulls by name;
* container create, when the container gets no host access: not privileged, no host bind
  mount, no host network/PID/IPC/UTS/user namespace, no added capability, no device, no
  weakened security profile (see `container_problems`);
* attach, start, wait, logs, inspect, stop, kill and remove of containers that this proxy
  created (it stamps PROXY_LABEL on each), so other containers of the engine stay out of reach.

Everything else (exec, build, volumes, networks, plugins, swarm, ...) is refused. One request
per connection: the engine is asked to close after its answer, so nothing unchecked can follow
on the same connection; attach's upgraded stream is the one exception, as the API requires.

Standard library only, so its image is the project's Python base plus this file.

    python3 docker_proxy.py    # settings from the environment, see Settings.from_env
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("docker-proxy")

PROXY_LABEL = "io.daily-synthetic.docker-proxy"
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024  # a container create is a few KiB

_VERSION = re.compile(r"^/v\d+\.\d+(?=/)")
_CONTAINER_ID = r"(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]*)"
# (method, path pattern, needs a container of this proxy)
ROUTES: list[tuple[str, re.Pattern[str], bool]] = [
    ("GET", re.compile(r"^/_ping$"), False),
    ("HEAD", re.compile(r"^/_ping$"), False),
    ("GET", re.compile(r"^/version$"), False),
    ("GET", re.compile(r"^/images/json$"), False),
    ("GET", re.compile(r"^/images/(?P<image>.+)/json$"), False),
    ("POST", re.compile(r"^/images/create$"), False),
    ("POST", re.compile(r"^/containers/create$"), False),
    ("GET", re.compile(rf"^/containers/{_CONTAINER_ID}/(json|logs)$"), True),
    ("POST", re.compile(rf"^/containers/{_CONTAINER_ID}/(attach|start|wait|stop|kill)$"), True),
    ("DELETE", re.compile(rf"^/containers/{_CONTAINER_ID}$"), True),
]

# Namespace modes that share the host's (or another container's) namespace.
_NAMESPACE_KEYS = ("PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode")
_NO_NEW_PRIVILEGES = re.compile(r"^no-new-privileges([:=]true)?$")
# Host-config keys that must be absent or empty: each one reaches past the container.
_MUST_BE_EMPTY = {
    "CapAdd": "added capabilities",
    "Devices": "device mappings",
    "DeviceRequests": "device requests (GPUs)",
    "DeviceCgroupRules": "device cgroup rules",
    "VolumesFrom": "volumes of other containers",
    "CgroupParent": "a cgroup parent",
    "PortBindings": "ports published on the host",
    "Sysctls": "sysctls",
    "Links": "links to other containers",
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    container: str | None = None  # an existing container the request acts on


@dataclass(frozen=True)
class Settings:
    listen: str  # unix:///path or tcp://host:port
    upstream: str  # path of the engine's unix socket
    images: tuple[str, ...]  # fnmatch patterns of the images containers may run; empty: any
    socket_mode: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        images = env.get("DOCKER_PROXY_IMAGES", "")
        return cls(
            listen=env.get("DOCKER_PROXY_LISTEN", "unix:///run/docker-proxy/docker.sock"),
            upstream=env.get("DOCKER_PROXY_UPSTREAM", "/var/run/docker.sock"),
            images=tuple(p.strip() for p in images.split(",") if p.strip()),
            socket_mode=int(env.get("DOCKER_PROXY_SOCKET_MODE", "660"), 8),
        )


def refuse(reason: str) -> Decision:
    return Decision(False, reason)


def container_problems(body: Mapping[str, Any], images: tuple[str, ...] = ()) -> list[str]:
    """What makes a container-create body reach the host; empty when it is contained."""
    problems: list[str] = []
    image = str(body.get("Image") or "")
    if images and not any(fnmatch.fnmatchcase(image, pattern) for pattern in images):
        problems.append(f"image {image!r} is not one of {', '.join(images)}")
    host = body.get("HostConfig")
    if host is None:
        host = {}
    if not isinstance(host, Mapping):
        return [*problems, "HostConfig is not an object"]
    if host.get("Privileged"):
        problems.append("privileged containers")
    for bind in host.get("Binds") or []:
        source = str(bind).split(":", 1)[0]
        if source.startswith("/") or source.startswith("."):
            problems.append(f"host bind mounts ({source})")
    for mount in host.get("Mounts") or []:
        kind = str(mount.get("Type", "volume"))
        if kind == "bind":
            problems.append(f"host bind mounts ({mount.get('Source')})")
        elif kind == "volume" and (mount.get("VolumeOptions") or {}).get("DriverConfig"):
            problems.append("volumes with driver options (they can bind host paths)")
        elif kind not in {"volume", "tmpfs"}:
            problems.append(f"{kind} mounts")
    network = str(host.get("NetworkMode") or "")
    if network == "host" or network.startswith("container:"):
        problems.append(f"network mode {network}")
    for key in _NAMESPACE_KEYS:
        mode = str(host.get(key) or "")
        if mode == "host" or mode.startswith("container:"):
            problems.append(f"{key} {mode}")
    for key, what in _MUST_BE_EMPTY.items():
        if host.get(key):
            problems.append(what)
    for option in host.get("SecurityOpt") or []:
        if not _NO_NEW_PRIVILEGES.match(str(option)):
            problems.append(f"security option {option}")
    if "MaskedPaths" in host or "ReadonlyPaths" in host:
        problems.append("changed masked or read-only /proc paths")
    if host.get("Runtime") not in (None, "", "runc"):
        problems.append(f"runtime {host.get('Runtime')}")
    return problems


def decide(method: str, target: str, body: bytes | None, images: tuple[str, ...] = ()) -> Decision:
    """Whether one API request may go to the engine, and why not."""
    split = urlsplit(target)
    path = unquote(split.path)
    if ".." in path.split("/") or "//" in path or "\\" in path:
        return refuse(f"path {path!r}")
    path = _VERSION.sub("", path, count=1)
    query = parse_qs(split.query)
    for allowed_method, pattern, needs_ours in ROUTES:
        match = pattern.match(path)
        if not match or method != allowed_method:
            continue
        if path == "/images/create" and ("fromSrc" in query or "fromImage" not in query):
            return refuse("image imports (only pulls by name)")
        if path == "/containers/create":
            try:
                spec = json.loads(body or b"{}")
            except ValueError:
                return refuse("a container create whose body is not JSON")
            if not isinstance(spec, dict):
                return refuse("a container create whose body is not an object")
            try:
                problems = container_problems(spec, images)
            except (AttributeError, TypeError):
                return refuse("a container create with a malformed HostConfig")
            if problems:
                return refuse("; ".join(problems))
        return Decision(True, "ok", match.group("id") if needs_ours else None)
    return refuse(f"{method} {path}")


def stamp(body: bytes) -> bytes:
    """The create body with PROXY_LABEL added: containers this proxy may act on later."""
    spec = json.loads(body or b"{}")
    spec["Labels"] = {**(spec.get("Labels") or {}), PROXY_LABEL: "1"}
    return json.dumps(spec).encode()


# --- the proxy ---------------------------------------------------------------------------


class BadRequest(Exception):
    pass


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, list[str], bytes]:
    """One request: method, target, header lines (no request line), body."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")[:-2]
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, target, _version = parts
    headers = lines[1:]
    length = 0
    for line in headers:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "transfer-encoding":
            raise BadRequest("chunked request bodies are not supported")
        if name == "content-length":
            length = int(value.strip())
    if length > MAX_BODY:
        raise BadRequest("request body too large")
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


def response(status: int, reason: str, message: str) -> bytes:
    payload = json.dumps({"message": f"docker-proxy: {message}"}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode() + payload


async def upstream_json(settings: Settings, path: str) -> tuple[int, Any]:
    """GET path on the engine: status and decoded JSON body."""
    reader, writer = await asyncio.open_unix_connection(settings.upstream)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return status, json.loads(body or b"null")


def dechunk(data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


async def is_ours(settings: Settings, container: str) -> bool:
    status, info = await upstream_json(settings, f"/containers/{container}/json")
    if status != 200 or not isinstance(info, dict):
        return False
    labels = (info.get("Config") or {}).get("Labels") or {}
    return PROXY_LABEL in labels


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()


async def handle(
    settings: Settings, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    upstream_w: asyncio.StreamWriter | None = None
    try:
        try:
            method, target, headers, body = await read_request(client_r)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except (BadRequest, ValueError) as exc:
            client_w.write(response(400, "Bad Request", str(exc)))
            return
        decision = decide(method, target, body, settings.images)
        if (
            decision.allowed
            and decision.container
            and not await is_ours(settings, decision.container)
        ):
            decision = refuse(f"container {decision.container} was not created through this proxy")
        if not decision.allowed:
            log.warning("refused %s %s: %s", method, target, decision.reason)
            client_w.write(response(403, "Forbidden", f"refused: {decision.reason}"))
            return
        # Healthchecks ping every few seconds: only the calls that do something are logged.
        log.log(
            logging.DEBUG if target.endswith("/_ping") else logging.INFO, "%s %s", method, target
        )
        if urlsplit(target).path.endswith("/containers/create"):
            body = stamp(body)
        upgrade = any(h.lower().startswith("upgrade:") for h in headers)
        kept = [
            h
            for h in headers
            if h.split(":", 1)[0].strip().lower() not in {"content-length", "connection"}
        ]
        kept += [f"Content-Length: {len(body)}", f"Connection: {'Upgrade' if upgrade else 'close'}"]
        upstream_r, upstream_w = await asyncio.open_unix_connection(settings.upstream)
        request_line = f"{method} {target} HTTP/1.1"
        upstream_w.write(("\r\n".join([request_line, *kept]) + "\r\n\r\n").encode("latin-1") + body)
        await upstream_w.drain()
        if not upgrade:
            await pipe(upstream_r, client_w)
            return
        # attach: the client may send on the connection only once the engine upgraded it.
        status_line = await upstream_r.readline()
        client_w.write(status_line)
        if b" 101 " not in status_line:
            await pipe(upstream_r, client_w)
            return
        await asyncio.gather(pipe(upstream_r, client_w), pipe(client_r, upstream_w))
    except OSError as exc:
        log.error("%s", exc)
    finally:
        for writer in (client_w, upstream_w):
            if writer is not None:
                writer.close()


async def serve(settings: Settings) -> None:
    def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Any:
        return handle(settings, r, w)

    if settings.listen.startswith("unix://"):
        path = Path(settings.listen.removeprefix("unix://"))
        path.unlink(missing_ok=True)  # left by a previous run of the container
        server = await asyncio.start_unix_server(handler, path, limit=MAX_HEAD)
        path.chmod(settings.socket_mode)
    else:
        host, _, port = settings.listen.removeprefix("tcp://").rpartition(":")
        server = await asyncio.start_server(handler, host, int(port), limit=MAX_HEAD)
    log.info(
        "listening on %s, engine %s, images %s",
        settings.listen,
        settings.upstream,
        ",".join(settings.images) or "any",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="docker-proxy: %(message)s", stream=sys.stderr)
    asyncio.run(serve(Settings.from_env()))


if __name__ == "__main__":
    main()
