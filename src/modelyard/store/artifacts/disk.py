"""Local files of the artifact store: a disk that cannot take more bytes is StorageFull, and a
link planted among the store's files is never followed.

Every write of the store (staged uploads, multipart parts, objects renamed into place, unpacked
archives) runs inside :func:`writing`, so a full disk, a quota, a read-only or unwritable folder
answers ``STORAGE_FULL`` (507) with the OS error chained, never a bare 500. The writer removes
its partial file itself.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import PathNotAllowed, StorageFull

NO_ROOM = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}
)
ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})  # ELOOP: a link, not followed
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Translate a full, read-only or unwritable disk into StorageFull (the cause chained)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_ROOM:
            raise
        name = errno.errorcode.get(exc.errno or 0, "?")
        raise StorageFull(f"cannot write {what}: {exc.strerror} ({name})", reason=name) from exc


def private_folder(path: Path, *, owner_only: bool = False) -> Path:
    """Create ``path`` if needed; refuse a link (or anything but a folder) planted there.

    ``owner_only`` (a folder in a shared place such as /tmp): it must also belong to this user
    and be closed to others, or someone else could read uploads or plant links in it.
    """
    with writing(f"the folder {path}"):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise PathNotAllowed(f"{path} must be a folder, not a link or a file", path=str(path))
    if owner_only and (st.st_uid != os.geteuid() or st.st_mode & 0o077):
        raise PathNotAllowed(
            f"{path} must belong to this user with no access for others (chmod 700); "
            "or set MODELYARD_STAGING_DIR",
            path=str(path),
        )
    return path


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading; a link or a device at ``path`` is refused (OSError)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW)
    return fdopen_regular(fd)


def fdopen_regular(fd: int) -> BinaryIO:
    """A reader of ``fd`` when it is a regular file; otherwise it is closed and ENOENT raised."""
    return os.fdopen(regular(fd), "rb")


def regular(fd: int) -> int:
    """``fd`` when it is a regular file; otherwise it is closed and ENOENT raised."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "not a regular file")
    return fd
