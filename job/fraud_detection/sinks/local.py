"""A local folder that behaves like the bucket: handy for `make run` and tests.

S3-shaped: a partition folder only ever holds the day's Parquet files.
Temp files live in `<root>/_staging/.tmp/` and are renamed into place (atomic on
one filesystem); metadata sidecars exist only beside staged objects. Conditional
writes are made safe by an exclusive `flock` on `<root>/_leases/.daily-synthetic.lock`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fraud_detection.errors import DestinationError, DiskFull, JobError, is_disk_full
from fraud_detection.sinks.destination import StoredObject
from fraud_detection.tempfiles import pid_alive

_META_SUFFIX = ".meta.json"  # sidecar of a staged object, like S3's user metadata
TMP_DIR = "_staging/.tmp"
# Under an underscore folder: no reader of the dataset root (glob or Parquet) reaches it.
LOCK_NAME = "_leases/.daily-synthetic.lock"


@dataclass
class LocalDestination:
    root: Path
    prefix: str = field(default="")

    def describe(self) -> str:
        return str(self.root.resolve())

    def uri(self, key: str) -> str:
        # Plain file:// + path: `year=2025` stays readable (as_uri() would escape "=").
        return f"file://{(self.root / key).resolve()}" + ("/" if key.endswith("/") else "")

    def table_uri(self, prefix: str) -> str:
        return str((self.root / prefix).resolve())

    def storage_options(self) -> dict[str, str]:
        return {}

    def preflight(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / TMP_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _error(exc, f"cannot create destination {self.root}") from None
        if not os.access(self.root, os.W_OK):
            raise DestinationError(f"destination {self.root} is not writable")
        self._sweep_stale_temp()

    def conditional_writes(self) -> bool:
        return True

    def upload(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        target = self.root / key
        self._write(_sidecar(target), lambda tmp: tmp.write_text(json.dumps(metadata)))
        self._write(target, lambda tmp: shutil.copyfile(local, tmp))

    def copy(self, source: StoredObject, key: str) -> None:
        current = self.head(source.key)
        if current is None or current.tag != source.tag:
            raise DestinationError(f"{source.key} changed while it was being published")
        self._write(self.root / key, lambda tmp: _link_or_copy(self.root / source.key, tmp))

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
        try:
            st = target.stat()
        except FileNotFoundError:
            return None
        side = _sidecar(target)
        meta = json.loads(side.read_text()) if side.is_file() else {}
        return StoredObject(key=key, size=st.st_size, metadata=meta, tag=_tag(st))

    def get_text(self, key: str) -> str | None:
        got = self.get_tagged(key)
        return got[0] if got else None

    def get_tagged(self, key: str) -> tuple[str, str] | None:
        try:
            with (self.root / key).open() as f:
                return f.read(), _tag(os.fstat(f.fileno()))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _error(exc, f"cannot read {self.root / key}") from None

    def get_aged(self, key: str) -> tuple[str, str, float] | None:
        try:
            with (self.root / key).open() as f:
                st = os.fstat(f.fileno())
                return f.read(), _tag(st), time.time() - st.st_mtime  # one host: one clock
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _error(exc, f"cannot read {self.root / key}") from None

    def download(self, key: str, local: Path) -> None:
        try:
            shutil.copyfile(self.root / key, local)
        except OSError as exc:
            raise _error(exc, f"cannot read {self.root / key}") from None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            target = self.root / key
            try:
                target.unlink(missing_ok=True)
                _sidecar(target).unlink(missing_ok=True)
            except OSError as exc:
                raise _error(exc, f"cannot delete {target}") from None

    def put_text(self, key: str, text: str, content_type: str) -> None:
        self._write(self.root / key, lambda tmp: tmp.write_text(text))

    def create_exclusive(self, key: str, text: str) -> bool:
        target = self.root / key
        with self._locked():
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            except OSError as exc:
                raise _error(exc, f"cannot create {target}") from None
            with os.fdopen(fd, "w") as f:
                f.write(text)
        return True

    def replace_if_match(self, key: str, text: str, tag: str) -> bool:
        with self._locked():
            got = self.get_tagged(key)
            if got is None or got[1] != tag:
                return False
            self.put_text(key, text, "application/json")
        return True

    def delete_if_match(self, key: str, tag: str) -> bool:
        with self._locked():
            got = self.get_tagged(key)
            if got is None or got[1] != tag:
                return False
            self.delete([key])
        return True

    def abort_uploads(self, prefix: str) -> int:
        return self._sweep_stale_temp()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            (self.root / LOCK_NAME).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _error(exc, f"cannot lock {self.root}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # also releases the lock

    def _write(self, target: Path, fill: Callable[[Path], object]) -> None:
        """Fill a temp file in the staging area, then rename it over the target.

        Readers see the old object or the new one, and a partition folder never holds
        a temp file. The temp name carries our pid, so the next run sweeps a killed run's.
        """
        tmp = self.root / TMP_DIR / f"{target.name}.{os.getpid()}.tmp"
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            fill(tmp)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise _error(exc, f"cannot write {target}") from None

    def _sweep_stale_temp(self) -> int:
        """Temp files of runs that were killed (SIGKILL leaves no chance to clean)."""
        removed = 0
        for tmp in (self.root / TMP_DIR).glob("*.tmp"):
            pid = tmp.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    removed += 1
        return removed


def _tag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


def _sidecar(target: Path) -> Path:
    return target.with_name(f".{target.name}{_META_SUFFIX}")


def _link_or_copy(source: Path, tmp: Path) -> None:
    """A hard link costs no space and no time; copy where links are not allowed."""
    try:
        os.link(source, tmp)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copyfile(source, tmp)


def _error(exc: OSError, what: str) -> JobError:
    if is_disk_full(exc):
        return DiskFull(f"no space left on device: {what}")
    return DestinationError(f"{what}: {exc.strerror or exc}")
