"""The CRD and the pydantic models are one source of truth."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubarr_operator import crd
from kubarr_operator import spec as s

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crd_is_what_the_models_generate():
    committed = (ROOT / "crds" / "kubarr.io_kubarrinstances.yaml").read_text()
    assert committed == crd.render(), "run `make crds` after changing spec.py"


def instance_specs() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == s.KIND:
                found.append((path.name, doc.get("spec") or {}))
    return found


@pytest.mark.parametrize(("name", "raw"), instance_specs(), ids=lambda v: str(v)[:30])
def test_every_example_is_a_valid_spec(name, raw):
    s.KubarrInstanceSpec.model_validate(raw)


def test_examples_cover_minimal_b2_minio_aws_and_file_replicas():
    names = {name for name, _ in instance_specs()}
    assert names == {
        "minimal.yaml",
        "backblaze-b2.yaml",
        "minio.yaml",
        "aws-s3.yaml",
        "file-replica.yaml",
    }


def test_schema_defaults_match_model_defaults():
    schema = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec_schema = schema["properties"]["spec"]

    def defaults_of(node):
        # Apply the schema's defaults to an empty object, the way the API server does.
        if node.get("type") != "object" or "properties" not in node:
            return node.get("default")
        result = {}
        for key, child in node["properties"].items():
            if "default" in child:
                value = child["default"]
                if child.get("type") == "object" and "properties" in child:
                    # The server applies the nested defaults inside the default.
                    value = {**defaults_of(child), **value}
                result[key] = value
        return result

    assert defaults_of(spec_schema) == s.KubarrInstanceSpec().model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )


def test_printer_columns_show_phase_ready_version_backup_and_age():
    columns = [c["name"] for c in crd.PRINTER_COLUMNS if not c.get("priority")]
    assert columns == ["Phase", "Ready", "Version", "Backup", "Age"]


def test_status_conditions_are_a_map_list_keyed_by_type():
    status = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"
    ]["status"]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "x-kubernetes-preserve-unknown-fields" not in status
