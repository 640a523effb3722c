"""Files replaced whole or not at all: `Scratch`, the one write-then-rename of byocframe.

A file (or a folder of files) is written under a scratch name beside its target, made
durable, and renamed over the target in one step: a reader sees the old file or the new
one, never a mix; an error, Ctrl-C or ``kill -9`` halfway leaves the old one as it was.

* The scratch name is new at every write (created exclusively, with a random part), so
  two threads or processes writing one target never share it; the last rename wins, and
  what it brings is one writer's whole file.
* Before the rename the new file is flushed to the disk (``fsync``), and after it the
  folder, so a power loss leaves the old file or the new one, not an empty one
  (`DURABLE`). A folder's fsync is skipped where the system refuses it (Windows).
* A scratch name says whose it is: ``.TARGET.HOST.PID.RANDOM.partial[.EXT]``, HOST the
  machine's name and (Linux) a digest of its boot and PID namespace. A writer killed
  before its rename leaves it; the next write of the same target on the same machine,
  in the same PID namespace, removes the scratch of writers that are no longer running
  (`stale_scratch`). Scratch of another machine (a shared folder), of another container
  (even one named as the host) or of a running writer is left alone.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     target = Path(folder) / "notes.txt"
...     with Scratch(target) as scratch:
...         _ = scratch.path.write_text("all or nothing")
...         scratch.commit()
...     print(target.read_text(), sorted(p.name for p in Path(folder).iterdir()))
all or nothing ['notes.txt']
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = ["DURABLE", "Scratch", "fsync_folder", "stale_scratch", "swept"]

#: Whether a replaced file and its folder are flushed to the disk (``fsync``) around the
#: rename, so that a power loss leaves the old file or the new one. It costs a wait for
#: the disk per file written (milliseconds on an SSD); set it to False
#: (``byocframe.atomic.DURABLE = False``) where a lost file is easily made again.
DURABLE = True

#: Most characters of the target's name a scratch name repeats: the rest of the scratch
#: name (host, process, random part, extension) then still fits the usual 255.
_NAME_KEPT = 120
#: The errors a folder's fsync gives where the system or file system does not do it.
_NOT_SUPPORTED = {errno.EINVAL, errno.EBADF, errno.EACCES, errno.EPERM, errno.ENOTSUP}


@functools.cache
def _host() -> str:
    """Where a process id means one process, as a scratch name holds it (letters, digits, -).

    The machine's name, and on Linux a digest of its boot id and of this process's PID
    namespace: a container sharing the host's name (``docker run --network host``) or
    another machine of the same name on a shared folder numbers its processes apart, so
    its writers' scratch is never taken for that of a writer that stopped here.
    """
    name = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
    try:
        space = os.stat("/proc/self/ns/pid").st_ino
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:  # not Linux: the machine's name alone
        return name
    tag = hashlib.blake2b(f"{boot}:{space}".encode(), digest_size=4).hexdigest()
    return f"{name}-{tag}"


def _head(target: Path) -> str:
    return f".{target.name[:_NAME_KEPT]}."


class Scratch:
    """A scratch file (or folder) beside ``target``, renamed over it by `commit`.

    Used as a context manager: on leaving, whatever was not committed is removed (a
    half-written file, after an error). Creating one first removes the scratch that
    writers of ``target`` killed on this machine left (`stale_scratch`).

    Parameters
    ----------
    target : pathlib.Path
        The file to replace; its folder must exist.
    folder : bool, default False
        A scratch folder instead of a file (for a writer that needs the target's own
        name: it writes ``scratch.path / target.name``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = Path(folder) / "a.csv"
    ...     with Scratch(target) as scratch:
    ...         _ = scratch.path.write_text("x,y")
    ...     target.exists()  # never committed: nothing replaced, nothing left
    False
    """

    def __init__(self, target: Path, *, folder: bool = False) -> None:
        self.target = Path(target)
        self.folder = folder
        if os.path.abspath(self.target.parent) not in _SWEPT.get():
            for stale in stale_scratch(self.target):
                _remove(stale)
        self.path = self._create()

    def _create(self) -> Path:
        # the extension stays last: GDAL and pyarrow read the format from it
        suffix = "" if self.folder else self.target.suffix
        head = f"{_head(self.target)}{_host()}.{os.getpid()}."
        while True:
            path = self.target.with_name(f"{head}{secrets.token_hex(4)}.partial{suffix}")
            try:
                if self.folder:
                    os.mkdir(path, 0o777)  # the umask's permissions, as a new file gets
                else:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue  # 4 random bytes taken by another writer: draw again
            return path

    def commit(self, source: Path | None = None, *, mode: int | None = None) -> None:
        """Rename ``source`` (default: the scratch file) over the target, durably.

        ``mode``: the permission bits to give the new file first (those of the file it
        replaces). A scratch folder is removed after its file is renamed out of it.
        """
        source = self.path if source is None else Path(source)
        if mode is not None:
            os.chmod(source, mode)
        if DURABLE:
            _fsync_file(source)
        os.replace(source, self.target)
        if DURABLE:
            fsync_folder(self.target.parent)

    def discard(self) -> None:
        """Remove the scratch (what was not renamed: a half-written file)."""
        _remove(self.path)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.discard()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk, where the system can.

    Windows opens no folder for this, and some file systems refuse it: then nothing is
    done (the rename is as durable as the system makes it).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fsync_folder(Path(folder))
    """
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as err:
        if err.errno in _NOT_SUPPORTED:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _NOT_SUPPORTED:
            raise
    finally:
        os.close(fd)


def stale_scratch(target: Path) -> list[Path]:
    """Scratch of ``target`` whose writers, on this machine and in this PID namespace, are gone.

    Only names `Scratch` makes for ``target`` count. On Windows none is (its process
    ids are not checked without a risk of stopping the process).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     stale_scratch(Path(folder) / "tiles.gpkg")
    []
    """
    target = Path(target)
    pattern = re.escape(f"{_head(target)}{_host()}.") + (
        rf"(\d+)\.[0-9a-f]{{8}}\.partial(?:{re.escape(target.suffix)})?\Z"
    )
    return _dead_writers(target.parent, _head(target), pattern)


def _dead_writers(folder: Path, head: str, pattern: str) -> list[Path]:
    """Scratch in ``folder`` whose writer is gone; none on Windows.

    Entries starting with ``head`` that match ``pattern``, whose group 1 is the process id
    of the writer that made them.
    """
    if os.name != "posix":
        return []
    matcher = re.compile(pattern)
    try:
        names = [p for p in Path(folder).iterdir() if p.name.startswith(head)]
    except OSError:
        return []
    out = []
    for path in names:
        found = matcher.match(path.name)
        if found is not None and not _running(int(found.group(1))):
            out.append(path)
    return out


#: Folders whose stale scratch `swept` removed for the writes running inside it.
_SWEPT: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "byocframe_swept", default=frozenset()
)


@contextlib.contextmanager
def swept(folder: Path) -> Iterator[None]:
    """Remove the stale scratch of every target in ``folder`` once, for many writes there.

    Each `Scratch` lists its target's folder for the scratch of killed writers; a
    writer of many files into one folder (the partitions of a dataset) would list it
    once a file, a cost that grows with the square of the files. Inside this context,
    the `Scratch` of a target in ``folder`` (on this thread) skips its own listing.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with swept(Path(folder)):
    ...         for k in range(3):
    ...             with Scratch(Path(folder) / f"part-{k}.csv") as scratch:
    ...                 _ = scratch.path.write_text("x")
    ...                 scratch.commit()
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['part-0.csv', 'part-1.csv', 'part-2.csv']
    """
    where = os.path.abspath(folder)
    # the names `Scratch` makes for any target: ".<name>.<host>.<pid>.<hex>.partial[.ext]"
    pattern = r"\..+\." + re.escape(_host()) + r"\.(\d+)\.[0-9a-f]{8}\.partial(?:\.[^.]*)?\Z"
    for path in _dead_writers(Path(where), ".", pattern):
        _remove(path)
    token = _SWEPT.set(_SWEPT.get() | {where})
    try:
        yield
    finally:
        _SWEPT.reset(token)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (or may: its id is taken)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks (POSIX; never called on Windows)
    except ProcessLookupError:
        return False
    except OverflowError:  # no process id of this system: not a name Scratch made, kept
        return True
    except OSError:  # another user's process: it runs
        return True
    return True
