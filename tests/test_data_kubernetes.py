"""Lesson 4 data: tables, references, example artefacts and the course's CRD JSON Schemas."""

import json
import re

import jsonschema
import kubernetes_validate
import pytest

from infraprep import manifests, tables

LESSON = "04-kubernetes"
FACT_TABLES = ["gpu_operator", "scheduler_gaps", "ml_schedulers", "slurm_vs_k8s", "topology_policies",
               "policy_objects", "facts", "k8s_versions", "gpu_resource_rules", "queue_objects"]


def test_references_are_complete():
    refs = tables.references(LESSON)
    assert list(refs.columns) == ["key", "title", "publisher", "url", "accessed"]
    assert refs["key"].is_unique
    assert refs["url"].str.startswith("https://").all()
    assert refs["accessed"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    for needed in ["k8s-device-plugins", "k8s-taints", "k8s-topology-manager", "k8s-resourcequota", "k8s-priority",
                   "nvidia-gpu-operator", "volcano-podgroup", "kueue-clusterqueue", "kubeflow-pytorchjob",
                   "argo-workflows", "slurm-sbatch", "slurm-gres", "slurm-fairshare", "slurm-backfill"]:
        assert needed in set(refs["key"])


@pytest.mark.parametrize("name", FACT_TABLES)
def test_every_fact_table_has_known_sources(name):
    frame = tables.load(LESSON, name)
    keys = set(tables.references(LESSON)["key"])
    assert "source" in frame.columns and len(frame) >= 3
    assert set(frame["source"]) <= keys
    assert not frame.drop(columns="source").isna().any().any()


def test_every_reference_is_used_by_a_table():
    used = set()
    for name in tables.available(LESSON):
        frame = tables.load(LESSON, name)
        if "source" in frame.columns:
            used |= set(frame["source"])
    assert set(tables.references(LESSON)["key"]) == used


def test_tables_cover_what_the_lesson_promises():
    operator = " ".join(tables.load(LESSON, "gpu_operator")["component"])
    for part in ["driver", "Container Toolkit", "device plugin", "Feature Discovery", "DCGM", "MIG Manager"]:
        assert part in operator
    gaps = set(tables.load(LESSON, "scheduler_gaps")["gap"])
    assert {"No gang scheduling", "No queueing", "No fair share between teams", "Fragmentation"} <= gaps
    assert list(tables.load(LESSON, "topology_policies")["policy"]) == ["none", "best-effort", "restricted",
                                                                        "single-numa-node"]
    assert {"Volcano", "Kueue", "Kubeflow Training Operator", "Argo Workflows", "Slurm"} <= set(
        tables.load(LESSON, "ml_schedulers")["tool"])
    assert {"ResourceQuota", "LimitRange", "PriorityClass"} <= set(tables.load(LESSON, "policy_objects")["object"])


def test_facts_match_their_sources():
    facts = tables.load(LESSON, "facts").set_index("fact")["value"]
    assert facts["GPUs in one DGX H100 node (one NVLink domain)"] == 8
    assert facts["Largest PriorityClass value allowed for user classes"] == 1_000_000_000


def test_versions_match_the_bundled_schemas():
    from pathlib import Path

    versions = tables.load(LESSON, "k8s_versions").set_index("item")["version"]
    bundled = [v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()]
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"

    def first(pattern):
        for version in kubernetes_validate.utils.all_versions():
            if list((root / f"v{version}-local").glob(pattern)):
                return "v" + version.rsplit(".", 1)[0]
        return None

    assert versions["Oldest Kubernetes API whose schemas kubernetes-validate 1.37.0 bundles"] == "v" + bundled[0]
    newest = versions["Newest Kubernetes API whose schemas kubernetes-validate 1.37.0 bundles (used by infraprep.manifests)"]
    assert newest == "v" + bundled[-1] == "v" + manifests.K8S_VERSION
    assert versions["First release with the built-in Workload (gang scheduling) API as alpha"] == first(
        "workload-scheduling-v1alpha*.json")
    assert versions["First release with the Workload API as beta"] == first("workload-scheduling-v1beta*.json")


def test_practice_answers_are_options():
    practice = tables.load(LESSON, "practice")
    assert len(practice) >= 6
    for row in practice.itertuples():
        assert row.answer in "ABCD" and isinstance(getattr(row, row.answer.lower()), str)


@pytest.mark.parametrize("kind", ["ClusterQueue", "PyTorchJob"])
def test_crd_schemas_are_valid_json_schema(kind):
    schema = manifests.crd_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["kind"]["const"] == kind


def test_example_artefacts_pass_their_checks():
    assert manifests.check_gpu_workload(tables.artefact(LESSON, "gpu-pod.yaml"))["total_gpus"] == 8
    assert manifests.check_gpu_workload(tables.artefact(LESSON, "pytorchjob.yaml"), pods=4)["total_gpus"] == 32
    assert manifests.check_sbatch(tables.artefact(LESSON, "train.sbatch"))["total_gpus"] == 32
    docs = manifests.parse_all(tables.artefact(LESSON, "kueue-setup.yaml"))
    assert [d["kind"] for d in docs] == ["ResourceFlavor", "ClusterQueue", "LocalQueue"]
    manifests.validate_crd(docs[1])
    # the LocalQueue points at the ClusterQueue and the ClusterQueue uses the flavor
    assert docs[2]["spec"]["clusterQueue"] == docs[1]["metadata"]["name"]
    assert docs[1]["spec"]["resourceGroups"][0]["flavors"][0]["name"] == docs[0]["metadata"]["name"]


def test_units_in_column_names_and_no_bare_numbers_in_text_tables():
    facts = tables.load(LESSON, "facts")
    assert {"fact", "value", "unit", "source"} == set(facts.columns)
    assert all(re.fullmatch(r"[A-Za-z]+", u) for u in facts["unit"])
