"""``LocalStorage``: objects are files under one root directory (the laptop default)."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from dlserve.storage.interfaces import validate_key, validate_prefix


class LocalStorage:
    def __init__(self, root: Path) -> None:
        # Resolved once, so a later chdir (tests, daemons) can't move the storage under us.
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path_of(self, key: str) -> Path:
        """The file a key maps to (validated: it is always inside ``root``)."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def put_file(self, key: str, source: Path) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = Path(source)
        # Flush the data before the rename publishes it: otherwise a power cut after a checkpoint
        # could leave a published name pointing at an empty file.
        _fsync_file(source)
        try:
            os.replace(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            self._copy_into_place(source, target)
            source.unlink()
        _fsync_directory(target.parent)

    def _copy_into_place(self, source: Path, target: Path) -> None:
        """Cross-filesystem move: copy beside the target, then rename (rename is only atomic
        within one filesystem). The temporary name starts with a dot, so it is never a valid key
        and ``list_keys`` never shows it."""
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            with source.open("rb") as reader, temporary.open("xb") as writer:
                shutil.copyfileobj(reader, writer, 1024 * 1024)
                writer.flush()
                os.fsync(writer.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def open_read(self, key: str) -> BinaryIO:
        return self.path_of(key).open("rb")

    def size(self, key: str) -> int:
        return self.path_of(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def delete(self, key: str) -> None:
        # Empty parent folders are left in place: removing them could race with a put_file that
        # has just created the folder and is about to rename into it.
        self.path_of(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self.path_of(key)

    def presigned_url(self, key: str, expires_at: datetime, filename: str) -> str | None:
        validate_key(key)
        return None

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        # Walk only the deepest folder the prefix names; the rest of the prefix filters names.
        folder = prefix.rpartition("/")[0]
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        keys: list[str] = []
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            relative = Path(directory).relative_to(self.root).as_posix()
            base = "" if relative == "." else relative + "/"
            keys.extend(base + name for name in files if not name.startswith("."))
        # Sorted like S3 lists keys, so callers see the same order on both implementations.
        yield from sorted(key for key in keys if key.startswith(prefix))


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    """Make a rename durable; some filesystems refuse to fsync a directory, which is fine."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
