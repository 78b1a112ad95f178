"""Exclusive folder locks: one writer at a time in a stroke dataset folder or a training run folder.

The lock is ``fcntl.flock`` on a file ``.lock`` inside the folder, which holds the holder's pid. The kernel
drops the lock when its process ends, however it ends, so a lock left by a killed process is simply taken
by the next writer; the file itself stays (deleting it would let two writers lock two different files).
Only the process that took the lock holds it: a process forked meanwhile (a rendering pool, DataLoader
workers) closes its inherited copy, so an orphaned worker can never keep a folder locked.
"""
from __future__ import annotations

import fcntl
import os
import weakref
from pathlib import Path

LOCK_NAME = ".lock"


_HELD: "weakref.WeakSet[FolderLock]" = weakref.WeakSet()


def _forget_in_child() -> None:
    for lock in list(_HELD):
        fd, lock._fd = lock._fd, None
        if fd is not None:
            try:
                os.close(fd)          # closing a copy keeps the parent's lock; flock(LOCK_UN) would not
            except OSError:
                pass
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


class FolderLockedError(ValueError):
    """Another live process holds the folder's lock."""


class FolderLock:
    """An exclusive lock on ``folder`` (created if missing); ``what`` names the folder in the error.

    Use as a context manager, or call :meth:`acquire` and :meth:`release`. Acquiring never waits: a folder
    held by another process raises :class:`FolderLockedError` naming the folder and the holder's pid.
    """

    def __init__(self, folder, what: str = "folder"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "FolderLock":
        if self._fd is not None:
            return self
        if self.folder.exists() and not self.folder.is_dir():
            raise FileExistsError(f"{self.what} {self.folder} exists and is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise FolderLockedError(
                f"{self.what} {self.folder} is in use by another process (pid {holder or 'unknown'}, lock file "
                f"{self.path}); wait for it to finish or choose another folder") from None
        except BaseException:
            os.close(fd)
            raise
        record = f"{os.getpid():>12}\n".encode()     # fixed width: a reader never sees half of two pids
        os.pwrite(fd, record, 0)
        os.ftruncate(fd, len(record))
        self._fd = fd
        _HELD.add(self)
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        _HELD.discard(self)
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __del__(self):
        self.release()

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_holder(folder) -> int | None:
    """The pid of the live process holding ``folder``'s lock, or None when nobody holds it."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
