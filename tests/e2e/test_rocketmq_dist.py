"""The release zips the e2e mirror serves are Apache's: Apache's own tree from ``../shared/vendor``
with exactly the jars its ``lib/`` lists (those Maven Central has), under Apache's folder and file
names, with a ``.sha512`` in Apache's ``gpg --print-md`` format.

Nothing here starts a launcher: RocketMQ's servers and tools run only inside test hosts.
"""

from __future__ import annotations

import re
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.e2e import rocketmq_dist as rd

pytestmark = pytest.mark.e2e

NOT_ON_CENTRAL = re.compile(r"^rocketmq-(example|openmessaging)-")


@pytest.mark.parametrize("version", ["4.9.7", rd.DEFAULT_VERSION, "5.5.0"])
def test_zip_is_apaches_tree_with_its_listed_jars(version: str, tmp_path: Path) -> None:
    dist = rd.build_dist(version, tmp_path / "mirror")
    name = f"rocketmq-all-{version}-bin-release.zip"
    assert dist.zip_path == tmp_path / "mirror" / "rocketmq" / version / name
    folder = f"rocketmq-all-{version}-bin-release" if version.startswith("5") else f"rocketmq-{version}"
    assert dist.folder == folder

    sha_text = dist.sha512_path.read_text()
    assert sha_text.startswith(f"{name}: ")
    assert re.sub(r"\s", "", sha_text.split(":", 1)[1]).lower() == rd.sha512_of(dist.zip_path)

    vendor = rd.vendor_dir()
    listed = set((vendor / f"rocketmq-{version}-lib.txt").read_text().split())
    with tarfile.open(vendor / f"rocketmq-{version}-bin-release-without-lib.tar.gz") as tar:
        tree = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
        tree_bytes = {n: tar.extractfile(m).read() for n, m in tree.items()}  # type: ignore[union-attr]
    with zipfile.ZipFile(dist.zip_path) as zf:
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        assert all(n.startswith(folder + "/") for n in infos)
        jars = {n.rsplit("/", 1)[1] for n in infos if n.startswith(f"{folder}/lib/")}
        # Apache's launchers, conf and notices, byte for byte and with their modes.
        for path, member in tree.items():
            assert zf.read(path) == tree_bytes[path], path
            assert infos[path].external_attr >> 16 & 0o777 == member.mode & 0o777, path
    assert set(infos) == set(tree) | {f"{folder}/lib/{jar}" for jar in jars}
    assert f"{folder}/bin/mqshutdown" in infos and f"{folder}/bin/tools.sh" in infos
    assert stat.S_IMODE(infos[f"{folder}/bin/mqbroker"].external_attr >> 16) & 0o111

    # Every listed jar except the modules Maven Central does not carry, and nothing else.
    assert jars <= listed
    assert set(dist.missing_jars) == listed - jars
    assert all(NOT_ON_CENTRAL.match(jar) for jar in dist.missing_jars), dist.missing_jars

    # Deterministic: a forced rebuild gives the same bytes.
    assert rd.build_dist(version, force=True).sha512 == dist.sha512
