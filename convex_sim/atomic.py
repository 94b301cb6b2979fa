"""Files written whole or not at all: a temporary file beside the target, renamed onto it
once complete, so a reader never sees half a report, history or snapshot."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

#: The prefix of the temporary files (a crash between write and rename may leave one).
TEMPORARY_PREFIX = ".convex-sim-"


def new_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary path in ``path``'s folder to write to: renamed onto ``path``, with the
    mode a new file gets (``mkstemp`` makes it 0600), when the block ends; removed if it
    raises."""
    target = os.fspath(path)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)),
                                     prefix=TEMPORARY_PREFIX, suffix=".tmp")
    os.close(fd)
    try:
        yield temporary
        os.chmod(temporary, new_file_mode())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_atomically(path: str | os.PathLike[str], text: str) -> str:
    """Write ``text`` to ``path`` via :func:`atomic_path`: never a half-written file."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    return os.fspath(path)
