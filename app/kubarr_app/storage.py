"""Browsing the media storage under one root directory.

Every path a caller sends is relative to the root and is checked before any
file system call: no absolute paths, no ``..``, no backslashes or NUL bytes,
no percent-encoded separators left over from a double encoding, and after
symlinks are resolved the result must still be inside the root. The top-level
``downloads`` and ``media`` folders can never be deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

PROTECTED_FOLDERS = frozenset({"downloads", "media"})
MAX_LISTING = 5000

_ENCODED = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


class StorageError(Exception):
    """A refused storage operation; ``status_code`` is the HTTP answer."""

    status_code = 400


class UnsafePathError(StorageError):
    status_code = 400


class OutsideRootError(StorageError):
    status_code = 403


class ProtectedPathError(StorageError):
    status_code = 403


class NotFoundError(StorageError):
    status_code = 404


class ConflictError(StorageError):
    status_code = 409


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    kind: str  # "file", "directory" or "symlink"
    size: int | None
    modified: datetime | None


@dataclass(frozen=True)
class DiskUsage:
    total: int
    used: int
    free: int


class StorageRoot:
    """Safe operations on the tree below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))

    def _check_text(self, relative: str) -> PurePosixPath:
        if "\x00" in relative or "\\" in relative:
            raise UnsafePathError("path contains a NUL byte or a backslash")
        if _ENCODED.search(relative):
            raise UnsafePathError("path contains an encoded separator or dot")
        if relative.startswith("/") or re.match(r"^[A-Za-z]:", relative):
            raise UnsafePathError("path must be relative to the storage root")
        pure = PurePosixPath(relative)
        if any(part == ".." for part in pure.parts):
            raise UnsafePathError("path must not contain '..'")
        return pure

    def _inside(self, path: Path) -> bool:
        return path == self.root or self.root in path.parents

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path != self.root else ""

    def resolve(self, relative: str) -> Path:
        """The real path for ``relative``, following symlinks; must stay inside."""
        pure = self._check_text(relative)
        real = Path(os.path.realpath(self.root.joinpath(*pure.parts)))
        if not self._inside(real):
            raise OutsideRootError("path leads outside the storage root")
        return real

    def _resolve_parent(self, relative: str) -> Path:
        """The path with its parent resolved but its last part left as is.

        Used where the last part must not be followed: deleting a symlink
        removes the link, never what it points to.
        """
        pure = self._check_text(relative)
        if not pure.parts:
            raise ProtectedPathError("the storage root itself cannot be changed")
        parent = Path(os.path.realpath(self.root.joinpath(*pure.parts[:-1])))
        if not self._inside(parent):
            raise OutsideRootError("path leads outside the storage root")
        return parent / pure.name

    def _entry(self, path: Path) -> Entry:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            kind, size = "symlink", None
        elif stat.S_ISDIR(info.st_mode):
            kind, size = "directory", None
        else:
            kind, size = "file", info.st_size
        return Entry(
            name=path.name,
            path=self._relative(path),
            kind=kind,
            size=size,
            modified=datetime.fromtimestamp(info.st_mtime, UTC),
        )

    def list(self, relative: str = "") -> list[Entry]:
        directory = self.resolve(relative)
        if not directory.is_dir():
            raise NotFoundError("no such directory")
        entries: list[Entry] = []
        with os.scandir(directory) as scan:
            for item in scan:
                entries.append(self._entry(Path(item.path)))
                if len(entries) >= MAX_LISTING:
                    # Limitation: a directory beyond MAX_LISTING entries is cut.
                    break
        entries.sort(key=lambda e: (e.kind != "directory", e.name.lower()))
        return entries

    def info(self, relative: str) -> Entry:
        path = self.resolve(relative)
        if not path.exists():
            raise NotFoundError("no such file or directory")
        return self._entry(path)

    def mkdir(self, relative: str) -> Entry:
        target = self._resolve_parent(relative)
        if not target.parent.is_dir():
            raise NotFoundError("the parent directory does not exist")
        try:
            target.mkdir()
        except FileExistsError:
            raise ConflictError("something with that name already exists") from None
        return self._entry(target)

    def delete(self, relative: str) -> None:
        """Delete a file, a symlink or an empty directory."""
        target = self._resolve_parent(relative)
        if target.parent == self.root and target.name in PROTECTED_FOLDERS:
            raise ProtectedPathError(f"the {target.name!r} folder is protected")
        try:
            info = target.lstat()
        except FileNotFoundError:
            raise NotFoundError("no such file or directory") from None

        # Limitation: a symlink swapped in between the check and the call
        # can still redirect it; the API is the only writer under the root.
        if stat.S_ISDIR(info.st_mode):
            try:
                target.rmdir()
            except OSError:
                raise ConflictError("the directory is not empty") from None
        else:
            target.unlink()

    def file_for_download(self, relative: str) -> Path:
        path = self.resolve(relative)
        if not path.is_file():
            raise NotFoundError("no such file")
        return path

    def usage(self) -> DiskUsage:
        usage = shutil.disk_usage(self.root)
        return DiskUsage(total=usage.total, used=usage.used, free=usage.free)
