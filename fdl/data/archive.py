"""Extract tar archives without trusting them.

A tar member can name any path (``/etc/passwd``, ``../../.bashrc``), be a
symlink or hardlink that later members write through, or be a device node.
``safe_extract`` allows only plain files and directories whose names stay
inside the destination, checks every member itself (tarfile's ``filter=``
is missing on older Pythons and is not relied on), writes the files itself,
and builds everything in a temporary directory beside ``dest`` that is
renamed into place only when the whole archive went through.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from .errors import DataError

_KIND = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.CONTTYPE: "a contiguous file",
}


def _member_path(member: tarfile.TarInfo) -> PurePosixPath | str:
    """The member's relative path, or a string saying why it is refused."""
    name = member.name
    if "\x00" in name:
        return "its name contains a NUL byte"
    # Tar names use '/', but a backslash or a drive letter is a path separator on Windows.
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "it has an absolute path"
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        return "its path contains '..'"
    if not parts:
        return "it has an empty name"
    if member.issym() or member.islnk():
        return f"it is {_KIND[member.type]} (to {member.linkname!r}); links are not extracted"
    if not (member.isfile() or member.isdir()):
        return f"it is {_KIND.get(member.type, f'of tar type {member.type!r}')}, not a file or directory"
    return PurePosixPath(*parts)


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract the .tar / .tar.gz / .tar.bz2 / .tar.xz ``archive`` into ``dest``.

    Refuses (DataError, nothing left behind) any member with an absolute path or
    a ``..`` component, any symlink or hardlink, and anything that is not a
    plain file or a directory. ``dest`` must not exist yet (or be an empty
    directory): the archive is unpacked into a temporary directory next to it,
    which is renamed to ``dest`` only after every member was written. Returns
    ``dest``.
    """
    archive, dest = Path(archive), Path(dest).absolute()
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
        raise DataError(
            f"cannot extract {archive.name}: {dest} already exists.\n"
            f"Expected: a destination that does not exist yet. Found: an existing "
            f"{'directory with files' if dest.is_dir() else 'file'}.\n"
            f"What to do: remove {dest} (or choose another destination) and try again."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        _extract_members(archive, tmp)
        if dest.exists():
            dest.rmdir()  # the empty directory checked above
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _extract_members(archive: Path, root: Path) -> None:
    try:
        tar = tarfile.open(archive, mode="r:*")
    except FileNotFoundError:
        raise DataError(
            f"archive {archive} does not exist.\n"
            f"Expected: a tar archive. Found: no file.\n"
            f"What to do: fetch it again (fdl.data.fetch) or check the path."
        ) from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _damaged(archive, exc) from None
    with tar:
        try:
            for member in tar:
                rel = _member_path(member)
                if isinstance(rel, str):
                    raise DataError(
                        f"refusing to extract {archive.name}: member {member.name!r} is not safe, "
                        f"because {rel}.\n"
                        f"Expected: only plain files and directories with relative paths inside "
                        f"the archive. Found: the member above; nothing was extracted.\n"
                        f"What to do: do not use this archive. Delete {archive} and download it "
                        f"again from a trusted source (fdl checks the published checksum)."
                    )
                target = root.joinpath(*rel.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # cannot happen for a regular file; be strict anyway
                    raise DataError(f"{archive.name}: member {member.name!r} has no data")
                # Write the bytes ourselves: no owners, no odd permission bits from the archive.
                if target.is_dir():
                    raise DataError(
                        f"{archive.name}: member {member.name!r} is a file where a directory of "
                        f"the same name was already extracted.\nWhat to do: the archive is malformed; "
                        f"delete {archive} and download it again."
                    )
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.chmod(target, 0o644)
        except DataError:
            raise
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise _damaged(archive, exc) from None


def _damaged(archive: Path, exc: BaseException) -> DataError:
    return DataError(
        f"cannot read the archive {archive}.\n"
        f"Expected: a complete tar archive (optionally gzip/bz2/xz compressed). "
        f"Found: {type(exc).__name__}: {exc}.\n"
        f"What to do: the file is damaged or incomplete; delete {archive} and fetch it again."
    )
