"""The call cache refuses a network filesystem (SQLite's WAL is unsafe there) and says what to do instead."""

from __future__ import annotations

import pytest

from factbench.cli.main import main
from factbench.llm import cache as cache_module
from factbench.llm.cache import CacheOnNetworkFilesystem, CallCache, filesystem_type

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export/home /home nfs4 rw,relatime,vers=4.2 0 0
/dev/sdb1 /home/me/local\\040disk xfs rw 0 0
gw:/scratch /scratch lustre rw 0 0
me@box:/data /mnt/box fuse.sshfs rw,nosuid 0 0
"""


@pytest.mark.parametrize("path, kind", [
    ("/tmp/x/cache.sqlite", "ext4"),
    ("/home/me/.cache/factbench", "nfs4"),
    ("/home/me/local disk/cache", "xfs"),  # the longest mount point wins; octal escapes read back
    ("/scratch/run", "lustre"),
    ("/mnt/box/c.sqlite", "fuse.sshfs"),
])
def test_filesystem_type_reads_the_longest_mount_above_the_path(tmp_path, path, kind):
    table = tmp_path / "mounts"
    table.write_text(MOUNTS)
    assert filesystem_type(path, str(table)) == kind


def test_unreadable_mount_table_means_unknown(tmp_path):
    assert filesystem_type(tmp_path, str(tmp_path / "absent")) is None


@pytest.mark.parametrize("kind", ["nfs4", "cifs", "lustre", "gpfs", "fuse.sshfs"])
def test_cache_on_a_network_filesystem_is_refused_with_the_alternative(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(cache_module, "filesystem_type", lambda path: kind)
    with pytest.raises(CacheOnNetworkFilesystem) as exc:
        CallCache(tmp_path / "c.sqlite")
    message = str(exc.value)
    assert kind in message and str(tmp_path / "c.sqlite") in message
    assert "--cache" in message and "--no-cache" in message
    assert not (tmp_path / "c.sqlite").exists()  # nothing opened, no WAL file made


@pytest.mark.parametrize("kind", ["ext4", "xfs", "tmpfs", "fuse.fuse-overlayfs", None])
def test_cache_on_a_local_filesystem_opens(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(cache_module, "filesystem_type", lambda path: kind)
    cache = CallCache(tmp_path / "c.sqlite")
    cache.put("k", "ns", {"v": 1})
    assert cache.get("k") == {"v": 1}
    cache.close()


def test_run_with_its_cache_on_nfs_exits_2_naming_it(tmp_path, monkeypatch, server, capsys):
    monkeypatch.setattr(cache_module, "filesystem_type", lambda path: "nfs")
    code = main(["run", "--tasks", "demo", "--limit", "1", "--results-dir", str(tmp_path / "res"), "--run-id", "r",
                 "--cache", str(tmp_path / "shared.sqlite"), "--model", "openai/m", "--model-base-url",
                 server.base_url, "--judge", "openai/j", "--judge-base-url", server.base_url, "--no-progress",
                 "--evidence", "none"])
    assert code == 2
    err = capsys.readouterr().err
    assert "network filesystem (nfs)" in err and str(tmp_path / "shared.sqlite") in err
    assert server.state.requests.total() == 0
