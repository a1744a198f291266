"""Reading untrusted input files safely: the one place every verb opens a user-named file.

* :func:`read_input_bytes` / :func:`read_input_text`: regular files only (a directory, FIFO, socket or
  device such as ``/dev/zero`` is refused at once with an :class:`InputError`, exit 2; a FIFO is opened
  non-blocking so that a missing writer cannot hang the open), and size-capped before anything is read.
* :func:`confine`: a path named inside a JSONL (or an HTTP request) resolved, symlinks included, and
  refused with :class:`PathNotAllowed` unless it lies inside one of the allowed folders (by default the
  JSONL's own folder; ``--allowed-root DIR`` adds more).
* :func:`check_text_size` / :func:`read_stdin_capped`: the same caps for inline code and stdin.

The caps are module constants so that tests and ``erm serve`` name the same numbers.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .errors import InputError

#: Largest code file or inline code (a model answer, a table source, an SVG): 1 MiB.
MAX_CODE_BYTES = 1 << 20
#: Largest image file read from disk: 64 MiB (the pixel cap in :mod:`erm_cli.imageio` applies after).
MAX_IMAGE_BYTES = 64 << 20
#: Largest line of an input JSONL (inline code escaped as JSON, plus fields): 8 MiB.
MAX_JSONL_LINE_BYTES = 8 << 20


class PathNotAllowed(InputError):
    """A path that resolves outside the allowed folders (HTTP 403 in ``erm serve``)."""


def _file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _check_name(path: str | os.PathLike[str], what: str) -> str:
    name = os.fspath(path)
    if "\x00" in name:
        raise InputError(f"{what}: a file name cannot contain a NUL byte")
    if not name:
        raise InputError(f"{what}: empty file name")
    return name


def open_input(path: str | os.PathLike[str], what: str = "input") -> BinaryIO:
    """A regular file opened for reading (binary). A directory, FIFO, socket or device is refused with an
    :class:`InputError` without blocking (the open is non-blocking, so a FIFO with no writer cannot hang)."""
    name = _check_name(path, what)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise InputError(f"{what}: no such file: {name}") from None
    except IsADirectoryError:
        raise InputError(f"{what}: is a directory, not a file: {name}") from None
    except OSError as exc:
        raise InputError(f"{what}: cannot open {name}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{what}: {name} is {_file_type(mode)}, not a regular file (refused)")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_input_bytes(path: str | os.PathLike[str], what: str = "input", max_bytes: int = MAX_CODE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else is an :class:`InputError`."""
    name = os.fspath(path)
    with open_input(path, what) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise InputError(f"{what}: {name} is {size:,} bytes, over the {max_bytes:,}-byte limit")
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"{what}: cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # the file grew while we read it
        raise InputError(f"{what}: {name} is over the {max_bytes:,}-byte limit")
    return data


def iter_lines_capped(fh: BinaryIO, max_bytes: int = MAX_JSONL_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line of ``fh``; a line longer than ``max_bytes`` comes back as None
    (its bytes are skipped without being held in memory), so one huge line cannot exhaust memory."""
    n = 0
    while True:
        line = fh.readline(max_bytes + 1)
        if not line:
            return
        n += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                line = fh.readline(1 << 20)
            yield n, None
            continue
        yield n, line


def read_input_text(path: str | os.PathLike[str], what: str = "code", max_bytes: int = MAX_CODE_BYTES) -> str:
    """:func:`read_input_bytes` decoded as UTF-8 (undecodable bytes replaced)."""
    return read_input_bytes(path, what, max_bytes).decode("utf-8", errors="replace")


def read_stdin_capped(what: str = "stdin", max_bytes: int = MAX_CODE_BYTES) -> bytes:
    """Standard input, refused when it is longer than ``max_bytes``."""
    data = sys.stdin.buffer.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"{what}: more than the {max_bytes:,}-byte limit")
    return data


def check_text_size(text: str | bytes, what: str = "code", max_bytes: int = MAX_CODE_BYTES) -> None:
    """Refuse inline code (a JSON field, a request body field) above ``max_bytes`` once encoded."""
    size = len(text) if isinstance(text, (bytes, bytearray)) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InputError(f"{what}: {size:,} bytes, over the {max_bytes:,}-byte limit")


def allowed_roots(base: str | os.PathLike[str], extra: Iterable[str | os.PathLike[str]] = ()) -> tuple[Path, ...]:
    """The resolved folders paths may point into: ``base`` (a JSONL's folder) and any ``--allowed-root``."""
    roots = [Path(base).resolve()]
    for r in extra:
        root = Path(_check_name(r, "--allowed-root")).expanduser().resolve()
        if not root.is_dir():
            raise InputError(f"--allowed-root is not a folder: {r}")
        roots.append(root)
    return tuple(dict.fromkeys(roots))


def confine(user_path: str | os.PathLike[str], base: str | os.PathLike[str], roots: Sequence[Path] | None = None,
            what: str = "path", show_roots: bool = True) -> Path:
    """``user_path`` (relative to ``base``, or absolute) resolved with symlinks followed; refused with
    :class:`PathNotAllowed` unless it is inside one of ``roots`` (default: ``base`` itself). ``show_roots``
    False keeps the allowed folders out of the message (a server's layout is not told to its clients)."""
    if not isinstance(user_path, (str, os.PathLike)):
        raise InputError(f"{what}: a path must be a string, not {type(user_path).__name__}")
    name = _check_name(user_path, what)
    base_path = Path(base).resolve()
    candidate = Path(name).expanduser() if name.startswith("~") else Path(name)
    try:
        full = (candidate if candidate.is_absolute() else base_path / candidate).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise InputError(f"{what}: cannot resolve {name!r}: {exc}") from None
    allowed = tuple(roots) if roots else (base_path,)
    if not any(full.is_relative_to(root) for root in allowed):
        if not show_roots:
            raise PathNotAllowed(f"{what}: {name!r} is outside the allowed root")
        where = " or ".join(str(r) for r in allowed)
        raise PathNotAllowed(f"{what}: {name!r} resolves outside the allowed root ({where}); "
                             f"pass --allowed-root DIR to allow another folder")
    return full
