"""Apache RocketMQ binary release zips, as Apache publishes them, from Apache's own tree plus
Maven Central's jars: what ``target: local`` serves from its local mirror when the configured
mirror does not answer, and what the e2e tests deploy.

The machines this project runs on reach Maven Central but not the Apache mirrors, and Maven
Central does not carry ``rocketmq-all-<v>-bin-release.zip``. ``../shared/vendor/`` (or
``$RMQ_VENDOR_DIR``) holds each release's tree without ``lib/`` (Apache's own ``bin/``
launchers, ``conf/``, ``LICENSE``, ...) and the list of file names in its ``lib/``. This module
fills ``lib/`` with exactly those jars from Maven Central (with ``mvn``) and zips the result
under Apache's folder and file names:

    <out>/rocketmq/<v>/rocketmq-all-<v>-bin-release.zip
    <out>/rocketmq/<v>/rocketmq-all-<v>-bin-release.zip.sha512   (``gpg --print-md SHA512`` format)

Jars that are not on Maven Central (4.9.7's example and openmessaging modules) are left out
and reported; a missing jar that the launchers need fails the build. The zip is deterministic
(sorted entries, fixed timestamps), so the same release always gives the same SHA-512.
Everything downloaded or built lives under ``${RMQ_CACHE:-${XDG_CACHE_HOME:-~/.cache}/rocketmq-pulumi}``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from localhosts.system import exclusive

__all__ = [
    "DEFAULT_VERSION",
    "Dist",
    "DistError",
    "build_dist",
    "cache_root",
    "gpg_sha512_text",
    "is_5x",
    "release_folder_name",
    "sha512_of",
    "vendor_dir",
    "zip_name",
]

#: The program's default release (components.config.DEFAULT_VERSION; a test keeps the two equal).
DEFAULT_VERSION = "5.4.0"

GROUP_ID = "org.apache.rocketmq"
CLIENT_ARTIFACTS = ("rocketmq-client",)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: sha256 of each vendored tree (../shared/vendor/README.md): a changed archive is refused.
RELEASE_TREES = {
    "4.9.7": "6d4d3db63fd4232a833e1054e7b7b3c6a909a4724983623dfa89b73d2853f11a",
    "5.4.0": "d7f55da2a912d997dcf4416e58cded000371a0d5da8f7a6ab47d4672a20f46fb",
    "5.5.0": "50feac32fe5e5c97fb37b6bc90817d6479e59805311393cfded039045a71eb4c",
}

# The modules Apache's distribution module bundles; their runtime closure is its lib/.
_MODULES_4X = ("rocketmq-broker", "rocketmq-namesrv", "rocketmq-tools", "rocketmq-client", "rocketmq-acl")
_MODULES_5X = (
    "rocketmq-broker",
    "rocketmq-namesrv",
    "rocketmq-tools",
    "rocketmq-client",
    "rocketmq-proxy",
    "rocketmq-controller",
    "rocketmq-container",
    "rocketmq-tiered-store",
    "rocketmq-auth",
)
# lib/ jars that only the example and openmessaging modules (not on Maven Central) pull in:
# fetched by their own coordinates, without their dependencies.
_EXTRA_COORDINATES = {
    "4.9.7": (
        "org.jetbrains:annotations:13.0",
        "com.google.code.gson:gson:2.8.6",
        "io.jaegertracing:jaeger-thrift:1.6.0",
        "io.jaegertracing:jaeger-tracerresolver:1.6.0",
        "javax.annotation:javax.annotation-api:1.3.2",
        "org.jetbrains.kotlin:kotlin-stdlib:1.4.10",
        "org.jetbrains.kotlin:kotlin-stdlib-common:1.4.0",
        "org.apache.thrift:libthrift:0.14.1",
        "com.squareup.okhttp3:okhttp:4.9.0",
        "com.squareup.okio:okio:2.8.0",
        "io.openmessaging:openmessaging-api:0.3.1-alpha",
        "io.opentracing:opentracing-noop:0.33.0",
        "io.opentracing.contrib:opentracing-tracerresolver:0.1.8",
        "io.opentracing:opentracing-util:0.33.0",
        "org.apache.tomcat:tomcat-annotations-api:8.5.46",
        "org.apache.tomcat.embed:tomcat-embed-core:8.5.46",
    ),
}
# What the launchers the program uses (mqnamesrv, mqbroker, mqadmin) cannot run without.
_LAUNCHER_MODULES = ("rocketmq-namesrv", "rocketmq-broker", "rocketmq-tools", "rocketmq-client", "rocketmq-store")

#: Timestamp stamped on every zip entry (zip has no time zone; 2000-01-01).
_ZIP_EPOCH = (2000, 1, 1, 0, 0, 0)
#: Bump when the zip recipe changes: cached zips of an older recipe are rebuilt.
RECIPE_REVISION = "apache-tree-1"


class DistError(RuntimeError):
    """Raised when an artifact cannot be fetched or built."""


@dataclass(frozen=True)
class Dist:
    """A built release artifact."""

    version: str
    zip_path: Path
    sha512_path: Path
    sha512: str
    folder: str  #: top-level folder inside the zip
    missing_jars: tuple[str, ...] = ()  #: jars of Apache's lib/ that Maven Central does not have

    @property
    def zip_name(self) -> str:
        return self.zip_path.name


# --------------------------------------------------------------------------
# naming helpers
# --------------------------------------------------------------------------


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int("".join(ch for ch in piece if ch.isdigit()) or 0) for piece in version.split("."))


def is_5x(version: str) -> bool:
    """True for RocketMQ 5.0 and later."""
    return _version_tuple(version) >= (5,)


def zip_name(version: str) -> str:
    """File name Apache publishes the binary release under."""
    return f"rocketmq-all-{version}-bin-release.zip"


def release_folder_name(version: str) -> str:
    """Top-level folder inside Apache's binary release zip."""
    return f"rocketmq-all-{version}-bin-release" if is_5x(version) else f"rocketmq-{version}"


def gpg_sha512_text(digest_hex: str, filename: str) -> str:
    """What ``gpg --print-md SHA512 FILE`` prints, the format of Apache's ``.sha512`` files:
    ``FILE:`` then the digest upper-case in groups of 8 hex digits, wrapped below column 80."""
    head = f"{filename}: "
    indent = len(head)
    out = [head]
    if indent > 40:  # gpg starts a long name's digest on the next line
        out.append("\n")
        indent = 0
    count = indent
    digest = bytes.fromhex(digest_hex)
    for i, byte in enumerate(digest):
        if i and i % 4 == 0:
            if count + 9 > 80:
                out.append("\n" + " " * max(indent, 1))
                count = indent
            else:
                out.append(" ")
                count += 1
        out.append(f"{byte:02X}")
        count += 2
    out.append("\n")
    return "".join(out)


def sha512_of(path: Path) -> str:
    h = hashlib.sha512()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """``${RMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rocketmq-pulumi}``."""
    explicit = os.environ.get("RMQ_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "rocketmq-pulumi"


def vendor_dir() -> Path:
    """``$RMQ_VENDOR_DIR``, else ``../shared/vendor`` beside the repository."""
    return Path(os.environ.get("RMQ_VENDOR_DIR") or PROJECT_ROOT.parent / "shared" / "vendor")


# --------------------------------------------------------------------------
# Maven
# --------------------------------------------------------------------------


def _dependency_xml(coordinate: str, *, transitive: bool) -> str:
    group, artifact, version = coordinate.split(":")
    exclusions = (
        ""
        if transitive
        else "      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>\n"
    )
    return (
        "    <dependency>\n"
        f"      <groupId>{group}</groupId>\n"
        f"      <artifactId>{artifact}</artifactId>\n"
        f"      <version>{version}</version>\n"
        f"{exclusions}"
        "    </dependency>"
    )


def _pom(name: str, modules: Iterable[str], extras: Iterable[str] = ()) -> str:
    deps = [_dependency_xml(m, transitive=True) for m in modules]
    deps += [_dependency_xml(e, transitive=False) for e in extras]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.rocketmq-pulumi</groupId>\n"
        f"  <artifactId>{name}</artifactId>\n"
        "  <version>0</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n" + "\n".join(deps) + "\n  </dependencies>\n</project>\n"
    )


def _mvn_copy_dependencies(pom_text: str, workdir: Path) -> Path:
    """Resolves the pom's dependencies (runtime scope) into ``workdir/lib``; cached by pom text."""
    # One Maven at a time: they share the local repository, which Maven does not lock.
    with exclusive(cache_root() / ".maven.lock"):
        return _mvn_copy_dependencies_locked(pom_text, workdir)


def _mvn_copy_dependencies_locked(pom_text: str, workdir: Path) -> Path:
    lib = workdir / "lib"
    stamp = workdir / ".complete"
    if stamp.is_file() and stamp.read_text() == pom_text and lib.is_dir():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DistError("mvn not found on PATH (Maven is needed to fetch RocketMQ jars)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pom.xml").write_text(pom_text)
    staging = workdir / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(workdir / "pom.xml"),
        f"-Dmaven.repo.local={cache_root() / 'm2repo'}",
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DistError(f"mvn could not resolve the jars from Maven Central:\n{tail}")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    stamp.write_text(pom_text)
    return lib


# --------------------------------------------------------------------------
# Apache's tree and jar list
# --------------------------------------------------------------------------


def _vendored(version: str) -> tuple[Path, list[str]]:
    """The vendored tree archive (checked against its sha256) and Apache's lib/ file names."""
    vendor = vendor_dir()
    archive = vendor / f"rocketmq-{version}-bin-release-without-lib.tar.gz"
    listing = vendor / f"rocketmq-{version}-lib.txt"
    if version not in RELEASE_TREES or not archive.is_file() or not listing.is_file():
        raise DistError(
            f"no Apache release tree for RocketMQ {version} in {vendor} (have: {', '.join(sorted(RELEASE_TREES))}); "
            "see ../shared/vendor/README.md"
        )
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    if actual != RELEASE_TREES[version]:
        raise DistError(f"{archive} has sha256 {actual}, expected {RELEASE_TREES[version]}")
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return archive, names


def _tree_entries(archive: Path, folder: str) -> dict[str, tuple[bytes, int]]:
    """Files of the tree, relative to ``folder``, with their modes."""
    entries: dict[str, tuple[bytes, int]] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            top, _, rel = member.name.lstrip("./").partition("/")
            if top != folder:
                raise DistError(f"{archive}: {member.name} is outside {folder}/")
            extracted = tar.extractfile(member)
            assert extracted is not None
            entries[rel] = (extracted.read(), member.mode & 0o777)
    return entries


def _select_jars(version: str, wanted: Sequence[str]) -> tuple[dict[str, Path], tuple[str, ...]]:
    """Apache's lib/ jars found on Maven Central, and the names it does not have."""
    modules = [f"{GROUP_ID}:{m}:{version}" for m in (_MODULES_5X if is_5x(version) else _MODULES_4X)]
    pom = _pom(f"rocketmq-lib-{version}", modules, _EXTRA_COORDINATES.get(version, ()))
    lib = _mvn_copy_dependencies(pom, cache_root() / "dist" / version / "maven")
    found = {name: lib / name for name in wanted if (lib / name).is_file()}
    missing = tuple(name for name in wanted if name not in found)
    needed = [f"{m}-{version}.jar" for m in _LAUNCHER_MODULES]
    if lost := [name for name in needed if name not in found]:
        raise DistError(f"Maven Central lacks jars the launchers need: {', '.join(lost)}")
    return found, missing


# --------------------------------------------------------------------------
# zip
# --------------------------------------------------------------------------


def _zip_info(name: str, mode: int, is_dir: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.create_system = 3  # unix, so unzip restores permissions
    info.external_attr = ((0o040000 if is_dir else 0o100000) | mode) << 16
    if is_dir:
        info.external_attr |= 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _write_zip(target: Path, folder: str, entries: dict[str, tuple[bytes | Path, int]]) -> None:
    """Writes a deterministic zip: ``entries`` maps relative path -> (data, mode)."""
    dirs: set[str] = {folder + "/"}
    for rel in entries:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add(folder + "/" + "/".join(parts[:i]) + "/")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for d in sorted(dirs):
            zf.writestr(_zip_info(d, 0o755, is_dir=True), b"")
        for rel in sorted(entries):
            data, mode = entries[rel]
            payload = data.read_bytes() if isinstance(data, Path) else data
            zf.writestr(_zip_info(f"{folder}/{rel}", mode), payload, compresslevel=6)


def _build_zip(
    archive: Path,
    folder: str,
    jars: dict[str, Path],
    *,
    zip_path: Path,
    sha_path: Path,
    stamp: Path,
    recipe: str,
    force: bool,
) -> None:
    """Writes the release zip and its .sha512 unless the cached ones follow ``recipe``."""
    if not force and zip_path.is_file() and sha_path.is_file() and stamp.is_file() and stamp.read_text() == recipe:
        return
    entries: dict[str, tuple[bytes | Path, int]] = dict(_tree_entries(archive, folder))
    entries.update({f"lib/{jar}": (path, 0o644) for jar, path in jars.items()})
    with tempfile.NamedTemporaryFile(dir=zip_path.parent, suffix=".zip.partial", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        _write_zip(tmp_path, folder, entries)
        sha_path.write_text(gpg_sha512_text(sha512_of(tmp_path), zip_path.name))
        tmp_path.replace(zip_path)
    finally:
        tmp_path.unlink(missing_ok=True)
    stamp.write_text(recipe)


def build_dist(version: str = DEFAULT_VERSION, out: Path | str | None = None, *, force: bool = False) -> Dist:
    """Builds (or reuses from the cache) Apache's binary release zip of ``version``.

    The zip and its ``.sha512`` are kept in ``<cache>/dist/<version>/``. With ``out``, they are
    also copied to ``<out>/rocketmq/<version>/`` (an Apache-mirror tree) and the returned paths
    point there."""
    archive, wanted = _vendored(version)
    folder = release_folder_name(version)
    jars, missing = _select_jars(version, wanted)
    workdir = cache_root() / "dist" / version
    name = zip_name(version)
    zip_path, sha_path, stamp = workdir / name, workdir / f"{name}.sha512", workdir / ".recipe"
    recipe = f"{RECIPE_REVISION} {RELEASE_TREES[version]} {' '.join(sorted(jars))}"
    with exclusive(workdir / ".zip.lock"):
        _build_zip(archive, folder, jars, zip_path=zip_path, sha_path=sha_path, stamp=stamp, recipe=recipe, force=force)
    digest = sha512_of(zip_path)
    dist = Dist(version, zip_path, sha_path, digest, folder, missing)
    if out is not None:
        dest = Path(out) / "rocketmq" / version
        dest.mkdir(parents=True, exist_ok=True)
        zip_target, sha_target = dest / name, dest / sha_path.name
        if not (zip_target.is_file() and sha512_of(zip_target) == digest):
            shutil.copyfile(zip_path, zip_target)
        shutil.copyfile(sha_path, sha_target)
        dist = Dist(version, zip_target, sha_target, digest, folder, missing)
    return dist
