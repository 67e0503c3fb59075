"""The Litestream config the operator renders is one the real binaries accept.

``litestream databases`` parses the config exactly as ``replicate`` and
``restore`` do and lists each database with its replica type. Exit code 0 is
not enough on its own: Litestream 0.3 ignores keys it does not know, so a
config in 0.5's shape parses there but lists a database with no replica at all
(see the last test). Each check therefore also reads the replica column.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubarr_operator import spec as s
from pod import (
    PodFactory,
    PodOnDisk,
    S3Server,
    file_spec,
    litestream_binary,
    s3_spec,
)


def listed_replica(output: str, database: str) -> str | None:
    """The replica type ``litestream databases`` lists for ``database``."""
    for line in output.splitlines()[1:]:
        columns = line.split()
        if columns and columns[0] == database:
            return columns[1] if len(columns) > 1 else None
    raise AssertionError(f"{database} is not listed in:\n{output}")


def spec_for(
    target: str, version: str, s3: S3Server, bucket: str
) -> s.KubarrInstanceSpec:
    return s3_spec(s3, bucket, version) if target == "s3" else file_spec(version)


@pytest.mark.parametrize("target", ["s3", "file"])
@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_the_configmap_text_as_rendered_is_accepted_with_its_replica(
    version: str,
    target: str,
    s3: S3Server,
    bucket: str,
    make_pod: PodFactory,
    tmp_path: Path,
) -> None:
    pod = make_pod(spec_for(target, version, s3, bucket))
    verbatim = tmp_path / "litestream.yml"
    verbatim.write_text(pod.configmap_text())

    listed = pod.litestream("databases", "-config", str(verbatim))

    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed_replica(listed.stdout, "/data/kubarr.db") == target


@pytest.mark.parametrize("target", ["s3", "file"])
@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_the_config_with_paths_mapped_for_this_machine_is_accepted_too(
    version: str, target: str, s3: S3Server, bucket: str, make_pod: PodFactory
) -> None:
    pod = make_pod(spec_for(target, version, s3, bucket))

    listed = pod.litestream("databases", "-config", str(pod.config_file))

    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed_replica(listed.stdout, str(pod.database)) == target


@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_a_config_the_binary_rejects_is_reported_as_rejected(
    version: str, make_pod: PodFactory, tmp_path: Path
) -> None:
    pod = make_pod(file_spec(version))
    broken = tmp_path / "litestream.yml"
    broken.write_text(pod.configmap_text().replace("type: file", "type: tape"))

    listed = pod.litestream("databases", "-config", str(broken))

    assert listed.returncode != 0
    assert "unknown replica type in config" in listed.stdout + listed.stderr
    assert "tape" in listed.stdout + listed.stderr


def test_litestream_03_reads_a_05_shaped_config_as_a_database_without_replica(
    make_pod: PodFactory, litestream_03: Path, tmp_path: Path
) -> None:
    pod: PodOnDisk = make_pod(file_spec("0.5"))
    assert litestream_binary(s.LitestreamVersion.V0_3) == litestream_03
    config = tmp_path / "litestream.yml"
    config.write_text(pod.configmap_text())

    listed = pod.litestream("databases", "-config", str(config))
    with_03 = subprocess.run(
        [str(litestream_03), "databases", "-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert listed_replica(listed.stdout, "/data/kubarr.db") == "file"
    assert with_03.returncode == 0
    assert listed_replica(with_03.stdout, "/data/kubarr.db") is None
