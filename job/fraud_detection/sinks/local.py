"""A local folder laid out like the bucket: handy for `make run` and tests."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fraud_detection.errors import DestinationError, DiskFull, is_disk_full
from fraud_detection.sinks.destination import StoredObject
from fraud_detection.tempfiles import pid_alive

_META_SUFFIX = ".meta.json"  # sidecar with the object's metadata, like S3's headers


@dataclass
class LocalDestination:
    root: Path
    prefix: str = field(default="")

    def describe(self) -> str:
        return str(self.root.resolve())

    def uri(self, key: str) -> str:
        # Plain file:// + path: `year=2025` stays readable (as_uri() would escape "=").
        return f"file://{(self.root / key).resolve()}" + ("/" if key.endswith("/") else "")

    def preflight(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DestinationError(
                f"cannot create destination {self.root}: {exc.strerror}"
            ) from None
        if not os.access(self.root, os.W_OK):
            raise DestinationError(f"destination {self.root} is not writable")

    def publish(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        target = self.root / key
        self._sweep_stale_temp(target.parent)
        _write_atomically(target, lambda tmp: shutil.copyfile(local, tmp))
        _write_atomically(
            _sidecar(target), lambda tmp: tmp.write_text(json.dumps(metadata, sort_keys=True))
        )

    @staticmethod
    def _sweep_stale_temp(folder: Path) -> None:
        """Temp files of runs that were killed (SIGKILL leaves no chance to clean)."""
        if not folder.is_dir():
            return
        for tmp in folder.glob(".*.tmp"):
            pid = tmp.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)

    def list_keys(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def head(self, key: str) -> StoredObject | None:
        target = self.root / key
        if not target.is_file():
            return None
        side = _sidecar(target)
        meta = json.loads(side.read_text()) if side.is_file() else {}
        return StoredObject(key=key, size=target.stat().st_size, metadata=meta)

    def get_text(self, key: str) -> str | None:
        target = self.root / key
        return target.read_text() if target.is_file() else None

    def download(self, key: str, local: Path) -> None:
        try:
            shutil.copyfile(self.root / key, local)
        except OSError as exc:
            raise DestinationError(f"cannot read {self.root / key}: {exc.strerror}") from None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            target = self.root / key
            target.unlink(missing_ok=True)
            _sidecar(target).unlink(missing_ok=True)

    def put_text(self, key: str, text: str, content_type: str) -> None:
        _write_atomically(self.root / key, lambda tmp: tmp.write_text(text))


def _sidecar(target: Path) -> Path:
    return target.with_name(f".{target.name}{_META_SUFFIX}")


def _write_atomically(target: Path, fill: Callable[[Path], object]) -> None:
    """Write beside the target, then rename: readers see the old file or the new one.

    The temp name carries our pid, so a run killed mid-write is swept by the next.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fill(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull(f"no space left on device while writing {target}") from None
        raise DestinationError(f"cannot write {target}: {exc.strerror}") from None
