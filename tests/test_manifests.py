"""infraprep.manifests: parsing, schema validation and field-by-field checks of GPU manifests and sbatch scripts."""

import pytest
import yaml

from infraprep import checking as ck
from infraprep import manifests as m
from infraprep import tables

POD = tables.artefact("04-kubernetes", "gpu-pod.yaml")
JOB = tables.artefact("04-kubernetes", "pytorchjob.yaml")
SBATCH = tables.artefact("04-kubernetes", "train.sbatch")
CQ = """
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata:
  name: team-b
spec:
  cohort: research
  namespaceSelector: {}
  resourceGroups:
    - coveredResources: ["cpu", "nvidia.com/gpu"]
      flavors:
        - name: h100
          resources:
            - name: cpu
              nominalQuota: 256
            - name: nvidia.com/gpu
              nominalQuota: 32
              borrowingLimit: 16
        - name: a100
          resources:
            - name: cpu
              nominalQuota: 128
            - name: nvidia.com/gpu
              nominalQuota: 16
"""


def error(func, *args, **kwargs) -> m.ManifestError:
    with pytest.raises(m.ManifestError) as info:
        func(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- Pod / PyTorchJob

def test_correct_pod_passes_with_summary():
    summary = m.check_gpu_workload(POD, gpus_per_pod=8)
    assert summary["kind"] == "Pod" and summary["gpus_per_pod"] == 8 and summary["total_gpus"] == 8


def test_correct_pytorchjob_passes_and_counts_pods():
    summary = m.check_gpu_workload(JOB, gpus_per_pod=8, pods=4)
    assert summary["kind"] == "PyTorchJob" and summary["pods"] == 4 and summary["total_gpus"] == 32


@pytest.mark.parametrize("wrong", ["nvidia.com/gpus", "gpu", "nvidia/gpu", "nvidia.com/GPU"])
def test_wrong_resource_name_is_named_in_the_message(wrong):
    bad = POD.replace("nvidia.com/gpu: 8", f"{wrong}: 8")
    exc = error(m.check_gpu_workload, bad)
    assert wrong in str(exc) and "'nvidia.com/gpu'" in str(exc)


def test_missing_toleration_fails_clearly():
    bad = POD.replace("  tolerations:\n    - key: nvidia.com/gpu\n      operator: Exists\n      effect: NoSchedule\n", "")
    assert "tolerations" not in yaml.safe_load(bad)["spec"]
    exc = error(m.check_gpu_workload, bad)
    assert "does not tolerate" in str(exc) and "nvidia.com/gpu=present:NoSchedule" in str(exc)
    assert "no tolerations" in str(exc)


@pytest.mark.parametrize("toleration", [
    "key: nvidia.com/gpu\n      operator: Exists\n      effect: NoExecute",       # wrong effect
    "key: nvidia.com/gpus\n      operator: Exists\n      effect: NoSchedule",      # wrong key
    "key: nvidia.com/gpu\n      operator: Equal\n      value: \"true\"",            # wrong value
    "key: nvidia.com/gpu\n      effect: NoSchedule",                                # Equal by default, no value
])
def test_non_matching_toleration_fails(toleration):
    bad = POD.replace("key: nvidia.com/gpu\n      operator: Exists\n      effect: NoSchedule", toleration)
    exc = error(m.check_gpu_workload, bad)
    assert "none of its tolerations matches" in str(exc)


@pytest.mark.parametrize("toleration", [
    "key: nvidia.com/gpu\n      operator: Equal\n      value: present\n      effect: NoSchedule",
    "key: nvidia.com/gpu\n      operator: Exists",                                  # empty effect: all effects
    "operator: Exists",                                                              # empty key + Exists: everything
])
def test_other_matching_tolerations_pass(toleration):
    ok = POD.replace("key: nvidia.com/gpu\n      operator: Exists\n      effect: NoSchedule", toleration)
    assert m.check_gpu_workload(ok)["gpus_per_pod"] == 8


def test_tolerates_truth_table():
    taint = m.Taint.parse("nvidia.com/gpu=present:NoSchedule")
    assert taint == m.GPU_TAINT and str(taint) == "nvidia.com/gpu=present:NoSchedule"
    assert m.tolerates({"key": "nvidia.com/gpu", "operator": "Exists"}, taint)
    assert m.tolerates({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}, taint)
    assert not m.tolerates({"key": "nvidia.com/gpu", "value": "absent"}, taint)
    assert not m.tolerates({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "PreferNoSchedule"}, taint)
    assert not m.tolerates({"key": "nvidia.com/gpu", "operator": "Bogus"}, taint)
    assert m.tolerates({"operator": "Exists"}, taint)
    assert not m.tolerates({"operator": "Equal"}, taint)
    with pytest.raises(ValueError):
        m.Taint.parse("nvidia.com/gpu=present")


def test_invalid_yaml_names_the_line():
    bad = POD.replace("  restartPolicy: Never", "  restartPolicy: Never\n   oops: [unclosed")
    exc = error(m.check_gpu_workload, bad)
    assert "YAML syntax error on line" in str(exc)
    assert exc.line is not None and 10 <= exc.line <= 13


def test_tab_indentation_is_explained():
    exc = error(m.parse, "apiVersion: v1\nkind: Pod\nspec:\n\tcontainers: []\n")
    assert exc.line == 4 and "tabs" in str(exc)


def test_schema_catches_misspelt_field_and_unknown_kind():
    exc = error(m.check_gpu_workload, POD.replace("tolerations:", "toleration:"))
    assert "toleration" in str(exc) and "schema error at spec" in str(exc)
    exc = error(m.validate, yaml.safe_load(POD.replace("kind: Pod", "kind: Pdo")))
    assert "Pdo" in str(exc)
    exc = error(m.validate, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                             "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": "8"}}]}})
    assert "resources" in str(exc)


def test_wrong_kind_count_fraction_and_requests_not_equal_limits():
    assert "expected kind" in str(error(m.check_gpu_workload, POD.replace("kind: Pod", "kind: Service")))
    exc = error(m.check_gpu_workload, POD.replace("nvidia.com/gpu: 8", "nvidia.com/gpu: 4", 1))
    assert "differ" in str(exc) and "must be equal" in str(exc)
    four = POD.replace("nvidia.com/gpu: 8", "nvidia.com/gpu: 4")
    assert m.check_gpu_workload(four, gpus_per_pod=4)["total_gpus"] == 4
    assert "this task wants 8" in str(error(m.check_gpu_workload, four, gpus_per_pod=8))
    half = POD.replace("nvidia.com/gpu: 8", "nvidia.com/gpu: 500m")
    assert "whole number" in str(error(m.check_gpu_workload, half))
    only_requests = POD.replace("        limits:\n          memory: 256Gi\n          nvidia.com/gpu: 8\n", "")
    assert "limits" in str(error(m.check_gpu_workload, only_requests))
    no_gpu = POD.replace("          nvidia.com/gpu: 8\n", "")
    assert "no container asks for nvidia.com/gpu" in str(error(m.check_gpu_workload, no_gpu))


def test_pytorchjob_schema_and_nested_pod_template_are_checked():
    assert "replica type" in str(error(m.check_gpu_workload, JOB.replace("    Worker:", "    Workers:")))
    exc = error(m.check_gpu_workload, JOB.replace("restartPolicy: OnFailure", "restartPolicy: Sometimes", 1))
    assert "restartPolicy" in str(exc) or "Sometimes" in str(exc)
    exc = error(m.check_gpu_workload, JOB.replace("            - name: pytorch\n", "            - nam: pytorch\n", 1))
    assert "pytorchReplicaSpecs.Master.template" in str(exc)
    assert "this task wants 5" in str(error(m.check_gpu_workload, JOB, pods=5))
    bad = JOB.replace("      replicas: 1\n", "      replicas: 2\n", 1)
    assert "Master" in str(error(m.check_gpu_workload, bad)) or "maximum" in str(error(m.check_gpu_workload, bad))


def test_parse_errors_for_non_text_and_multiple_documents():
    assert "text" in str(error(m.parse, 42))
    assert "empty" in str(error(m.parse, "   "))
    assert "mapping" in str(error(m.parse, "- a\n- b\n"))
    assert "one YAML document" in str(error(m.parse, POD + "\n---\n" + POD))
    assert len(m.parse_all(tables.artefact("04-kubernetes", "kueue-setup.yaml"))) == 3


def test_parse_quantity():
    assert m.parse_quantity(8) == 8 and m.parse_quantity("8") == 8
    assert m.parse_quantity("500m") * 2 == 1
    assert m.parse_quantity("4Ti") == 4 * 2**40 and m.parse_quantity("2k") == 2000 and m.parse_quantity("1e3") == 1000
    with pytest.raises(ValueError):
        m.parse_quantity("eight")


def test_kubernetes_validate_bundles_the_version_used():
    import kubernetes_validate

    assert m.K8S_VERSION in [v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()]
    assert m.validate(yaml.safe_load(POD)) == f"kubernetes {m.K8S_VERSION}"


# --------------------------------------------------------------------------- ClusterQueue

def test_clusterqueue_sums_gpu_quota_over_flavors():
    summary = m.check_clusterqueue(CQ, gpu_quota=48, cohort="research", borrowing_limit=16)
    assert summary["gpu_quota"] == 48 and summary["flavors"] == ["h100", "a100"] and summary["cohort"] == "research"
    assert "this task wants 64" in str(error(m.check_clusterqueue, CQ, gpu_quota=64))
    assert "cohort" in str(error(m.check_clusterqueue, CQ, cohort="prod"))


def test_clusterqueue_version_specific_cohort_field():
    v2 = CQ.replace("v1beta1", "v1beta2").replace("cohort:", "cohortName:")
    assert m.check_clusterqueue(v2)["cohort"] == "research"
    exc = error(m.check_clusterqueue, CQ.replace("v1beta1", "v1beta2"))
    assert "cohortName" in str(exc)


def test_clusterqueue_errors():
    exc = error(m.check_clusterqueue, CQ.replace('["cpu", "nvidia.com/gpu"]', '["cpu", "gpu"]'))
    assert "coveredResources lists 'gpu'" in str(exc) and "'nvidia.com/gpu'" in str(exc)
    swapped = CQ.replace("            - name: cpu\n              nominalQuota: 256\n", "", 1).replace(
        "              borrowingLimit: 16\n", "              borrowingLimit: 16\n            - name: cpu\n              nominalQuota: 256\n", 1)
    assert "same order" in str(error(m.check_clusterqueue, swapped))
    assert "queueingStrategy" in str(error(m.check_clusterqueue, CQ.replace("  namespaceSelector: {}", "  queueingStrategy: Random")))
    no_gpu = CQ.replace('["cpu", "nvidia.com/gpu"]', '["cpu"]').replace(
        "            - name: nvidia.com/gpu\n              nominalQuota: 32\n              borrowingLimit: 16\n", "").replace(
        "            - name: nvidia.com/gpu\n              nominalQuota: 16\n", "")
    assert "no resource group covers nvidia.com/gpu" in str(error(m.check_clusterqueue, no_gpu))
    assert "whole numbers" in str(error(m.check_clusterqueue, CQ.replace("nominalQuota: 32", "nominalQuota: 500m")))
    assert "custom resource" in str(error(m.validate, {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue"}))


# --------------------------------------------------------------------------- sbatch

def test_sbatch_correct_script_passes():
    summary = m.check_sbatch(SBATCH, nodes=4, gpus_per_node=8)
    assert summary["total_gpus"] == 32 and summary["total_tasks"] == 32 and summary["partition"] == "gpu"
    assert summary["srun_args"][-3:] == ["train.py", "--config", "configs/llm.yaml"]


@pytest.mark.parametrize("gpu_line", ["#SBATCH --gres=gpu:8", "#SBATCH --gres=gpu:h100:8", "#SBATCH --gpus-per-node 8"])
def test_sbatch_gpu_request_forms(gpu_line):
    script = SBATCH.replace("#SBATCH --gpus-per-node=8", gpu_line)
    assert m.check_sbatch(script)["gpus_per_node"] == 8


def test_sbatch_short_options():
    script = SBATCH.replace("--nodes=4", "-N 4").replace("--partition=gpu", "-p gpu")
    assert m.check_sbatch(script)["nodes"] == 4 and m.check_sbatch(script)["partition"] == "gpu"


def test_sbatch_errors_are_clear():
    assert "--nodes is 2" in str(error(m.check_sbatch, SBATCH.replace("--nodes=4", "--nodes=2")))
    assert "no #SBATCH --nodes" in str(error(m.check_sbatch, SBATCH.replace("#SBATCH --nodes=4\n", "")))
    assert "no GPU request" in str(error(m.check_sbatch, SBATCH.replace("#SBATCH --gpus-per-node=8\n", "")))
    assert "4 GPUs a node" in str(error(m.check_sbatch, SBATCH.replace("--gpus-per-node=8", "--gres=gpu:4")))
    assert "'gpus'" in str(error(m.check_sbatch, SBATCH.replace("--gpus-per-node=8", "--gres=gpus:8")))
    assert "one task per GPU" in str(error(m.check_sbatch, SBATCH.replace("--ntasks-per-node=8", "--ntasks-per-node=1")))
    assert "no srun line" in str(error(m.check_sbatch, SBATCH.replace("srun --cpu-bind=cores ", "")))
    assert "line 1" in str(error(m.check_sbatch, SBATCH.replace("#!/bin/bash\n", "")))
    late = SBATCH.replace("#SBATCH --nodes=4\n", "") + "#SBATCH --nodes=4\n"
    exc = error(m.check_sbatch, late)
    assert "ignored" in str(exc) and exc.line == len(late.splitlines())
    assert "disagrees" in str(error(m.check_sbatch, SBATCH.replace("srun --cpu-bind", "srun --nodes=2 --cpu-bind")))
    assert "total" in str(error(m.check_sbatch, SBATCH.replace("--gpus-per-node=8", "--gpus=32")))


def test_parse_sbatch_records_ignored_directives_and_env_prefixed_srun():
    script = m.parse_sbatch("#!/bin/bash\n#SBATCH -N 2\necho hi\n#SBATCH --nodes=8\nNCCL_DEBUG=INFO srun python x.py\n")
    assert script.directives["nodes"] == "2" and script.ignored == [(4, "#SBATCH --nodes=8")]
    assert script.srun_lines == [(5, ["python", "x.py"])]


# --------------------------------------------------------------------------- notebook helpers

def test_form_and_grade_helpers_raise_checking_errors():
    with pytest.raises(ck.NotAnswered):
        m.form_manifest("Q1", ..., "Pod")
    with pytest.raises(ck.WrongForm, match="line"):
        m.form_manifest("Q1", "kind: Pod\n  x: [", "Pod")
    with pytest.raises(ck.WrongForm, match="expected kind"):
        m.form_manifest("Q1", POD, ("PyTorchJob",))
    m.form_manifest("Q1", POD, ("Pod", "PyTorchJob"))
    m.form_sbatch("Q2", SBATCH)
    with pytest.raises(ck.WrongForm):
        m.form_sbatch("Q2", "#SBATCH --nodes=4\n")
    with pytest.raises(ck.WrongAnswer, match="nvidia.com/gpu"):
        m.grade_gpu_workload("Q1", POD.replace("nvidia.com/gpu: 8", "gpu: 8"))
    assert m.grade_sbatch("Q2", SBATCH)["total_gpus"] == 32
    with pytest.raises(ck.NotAnswered):
        m.grade_clusterqueue("Q3", None)
