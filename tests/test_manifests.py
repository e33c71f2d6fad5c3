"""infraprep.manifests: bounded YAML, schema validation (Kubernetes and the course's CRD schemas),
field-by-field checks of GPU manifests, Kueue objects and sbatch scripts."""

import json
import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest
import yaml

from infraprep import checking as ck
from infraprep import manifests as m
from infraprep import tables

L = "04-kubernetes"
POD = tables.artefact(L, "gpu-pod.yaml")
JOB = tables.artefact(L, "pytorchjob.yaml")
TRAINJOB = tables.artefact(L, "trainjob.yaml")
SBATCH = tables.artefact(L, "train.sbatch")
TOLERATION = "- key: nvidia.com/gpu\n      operator: Exists\n      effect: NoSchedule"
CQ = """
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: team-b
spec:
  cohortName: research
  namespaceSelector: {}
  preemption:
    reclaimWithinCohort: LowerPriority
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
CQ_V1BETA1 = CQ.replace("v1beta2", "v1beta1").replace("cohortName:", "cohort:")


def error(func, *args, **kwargs) -> m.ManifestError:
    with pytest.raises(m.ManifestError) as info:
        func(*args, **kwargs)
    return info.value


def pod_with(**resources) -> str:
    """A one-container Pod manifest with the given requests/limits (each a dict)."""
    spec = {"containers": [{"name": "c", "image": "i", "resources": resources}]}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


# --------------------------------------------------------------------------- bounded YAML

def test_aliases_that_expand_without_end_are_refused_quickly():
    laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        laughs += f"{level}: &{level} [{', '.join(['*' + previous] * 9)}]\n"
    exc = error(m.parse, laughs)  # refused while composing, before any alias is expanded
    assert "aliases expand to more than" in str(exc) and f"{m.MAX_YAML_NODES:,}" in str(exc)
    with pytest.raises(m.ManifestError, match="aliases"):
        m.load_yaml(laughs)


def test_an_alias_inside_its_own_anchor_is_refused():
    exc = error(m.parse, "apiVersion: v1\nkind: Pod\nspec: &loop\n  again: *loop\n")
    assert "contains itself" in str(exc)
    assert "itself" in str(error(m.load_yaml, "&a [*a]"))


def test_small_aliases_still_work_and_deep_or_huge_text_is_refused():
    doc = m.parse("apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: &l {app: a}}\nspec: {nodeSelector: *l}\n")
    assert doc["spec"]["nodeSelector"] == {"app": "a"}
    assert "nested too deeply" in str(error(m.load_yaml, "[" * 5000 + "]" * 5000))
    assert "at most" in str(error(m.parse, "a: b\n" * 30_000))


def test_invalid_yaml_names_the_line():
    bad = POD.replace("  restartPolicy: Never", "  restartPolicy: Never\n   oops: [unclosed")
    exc = error(m.check_gpu_workload, bad)
    line = bad.splitlines().index("  restartPolicy: Never") + 1
    assert "YAML syntax error on line" in str(exc)
    assert exc.line is not None and line <= exc.line <= line + 3


def test_tab_indentation_is_explained():
    exc = error(m.parse, "apiVersion: v1\nkind: Pod\nspec:\n\tcontainers: []\n")
    assert exc.line == 4 and "tabs" in str(exc)


def test_parse_errors_for_non_text_and_multiple_documents():
    assert "text" in str(error(m.parse, 42))
    assert "empty" in str(error(m.parse, "   "))
    assert "mapping" in str(error(m.parse, "- a\n- b\n"))
    assert "one YAML document" in str(error(m.parse, POD + "\n---\n" + POD))
    assert len(m.parse_all(tables.artefact(L, "kueue-setup.yaml"))) == 4


# --------------------------------------------------------------------------- schemas

def test_validation_builds_each_validator_once():
    """The schema of a kind is read and compiled once; later validations reuse it (speed is measured by
    benchmarks/notebooks.py, not here)."""
    obj = yaml.safe_load(POD)
    m.validate(obj)
    before = m._k8s_validator.cache_info()
    for _ in range(50):
        m.validate(obj)
    after = m._k8s_validator.cache_info()
    assert after.misses == before.misses and after.hits - before.hits >= 50


def test_jsonschema_loads_without_format_helpers_and_leaves_them_importable():
    code = ("import sys; from infraprep import manifests as m, tables; "
            "m.validate(m.parse(tables.artefact('04-kubernetes', 'gpu-pod.yaml'))); "
            "print(any(n in sys.modules for n in m._FORMAT_MODULES)); "
            "import importlib.util; print(importlib.util.find_spec('rfc3987_syntax') is not None); "
            "import isoduration; print(isoduration.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False"  # none imported, and no placeholder left behind
    assert out[1:] == ["True", "isoduration"]  # still importable by anyone who wants them


@pytest.mark.parametrize("name", ["gpu-pod.yaml", "quota-and-priority.yaml", "dra-gpu-claim.yaml", "rdma-pod.yaml",
                                  "preemptible-job.yaml", "device-plugin-sharing.yaml", "native-gang.yaml"])
def test_built_in_kinds_agree_with_kubernetes_validate(name):
    """Our cached validators give the same verdict as kubernetes-validate itself, on the artefacts and on mutants."""
    for obj in m.parse_all(tables.artefact(L, name)):
        if m._group(obj["apiVersion"]) in m.CRD_GROUPS:
            continue
        mutants = [obj, {**obj, "spek": {}}, {**obj, "metadata": {"name": "x", "labels": {"a": 5}}}]
        for candidate in mutants:
            try:
                kubernetes_validate.validate(candidate, m.K8S_VERSION, strict=True)
                theirs = True
            except kubernetes_validate.ValidationError:
                theirs = False
            try:
                m.validate_k8s(candidate)
                ours = True
            except m.ManifestError:
                ours = False
            assert ours == theirs, (name, candidate.get("kind"))


def test_schema_catches_misspelt_field_and_unknown_kind():
    exc = error(m.check_gpu_workload, POD.replace("tolerations:", "toleration:"))
    assert "toleration" in str(exc) and "schema error at spec" in str(exc)
    exc = error(m.validate, yaml.safe_load(POD.replace("kind: Pod", "kind: Pdo")))
    assert "Pdo" in str(exc)
    exc = error(m.validate, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                             "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": "8"}}]}})
    assert "resources" in str(exc)


@pytest.mark.parametrize("api_kind", sorted({k for _a, k in m.crd_kinds()}))
def test_crd_schemas_are_valid_json_schema(api_kind):
    schema = m.crd_schema(api_kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["kind"]["const"] == api_kind


def test_crd_kinds_cover_what_the_lesson_teaches():
    kinds = set(m.crd_kinds())
    for kind in ("ResourceFlavor", "ClusterQueue", "LocalQueue", "Cohort", "Topology", "AdmissionCheck",
                 "ProvisioningRequestConfig", "MultiKueueConfig", "MultiKueueCluster"):
        assert ("kueue.x-k8s.io/v1beta2", kind) in kinds and ("kueue.x-k8s.io/v1beta1", kind) in kinds
    for pair in [("kubeflow.org/v1", "PyTorchJob"), ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
                 ("jobset.x-k8s.io/v1alpha2", "JobSet"), ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
                 ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"), ("config.kueue.x-k8s.io/v1beta2", "Configuration")]:
        assert pair in kinds
    assert m.crd_schema("ClusterQueue")["properties"]["apiVersion"]["const"] == "kueue.x-k8s.io/v1beta2"
    with pytest.raises(KeyError):
        m.crd_schema("Nope")


@pytest.mark.parametrize("text, where", [
    (JOB.replace("            - name: pytorch\n", "            - nam: pytorch\n", 1), "pytorchReplicaSpecs.Master.template"),
    (TRAINJOB.replace("numProcPerNode: 8", "numProcPerNode: 0"), "spec.trainer.numProcPerNode"),
    (TRAINJOB.replace("tolerations:", "toleration:"), "replicatedJobs[0]"),
    (tables.artefact(L, "jobset.yaml").replace("completionMode: Indexed", "completionMod: Indexed"),
     "replicatedJobs[0].template.spec"),
    (tables.artefact(L, "lws.yaml").replace("restartPolicy: RecreateGroupOnPodRestart", "restartPolicy: Sometimes"),
     "leaderWorkerTemplate.restartPolicy"),
    (tables.artefact(L, "lws.yaml").replace("          - name: engine\n", "          - nme: engine\n", 1),
     "leaderTemplate.spec.containers[0]"),
])
def test_nested_templates_of_custom_resources_meet_the_kubernetes_schema(text, where):
    doc = next(d for d in m.parse_all(text) if m._group(d["apiVersion"]) in m.CRD_GROUPS)
    exc = error(m.validate, doc)
    assert where in str(exc), str(exc)


def test_every_lesson_artefact_validates():
    import glob
    from pathlib import Path

    for path in glob.glob(str(tables.artefact_path(L, "gpu-pod.yaml").parent / "*.yaml")):
        for obj in m.parse_all(Path(path).read_text(encoding="utf-8")):
            result = m.validate(obj)
            assert result.startswith(("kubernetes 1.37", "course schema")), (path, obj["kind"])
            if obj["apiVersion"].startswith("kueue.x-k8s.io"):
                assert obj["apiVersion"] == "kueue.x-k8s.io/v1beta2", "the lesson teaches v1beta2"


def test_kueue_v1beta2_is_accepted_and_v1beta1_recognised_as_deprecated():
    assert m.validate(m.parse(CQ)) == "course schema"
    old = m.validate(m.parse(CQ_V1BETA1))
    assert old.startswith("course schema (deprecated") and "v1beta2" in old and "0.15" in old
    assert m.check_clusterqueue(CQ)["deprecated"] is None
    assert "deprecated" in m.check_clusterqueue(CQ_V1BETA1)["deprecated"]
    exc = error(m.check_clusterqueue, CQ_V1BETA1, api_version="kueue.x-k8s.io/v1beta2")
    assert "deprecated" in str(exc) and "v1beta2" in str(exc)


def test_kueue_cohort_field_must_match_the_api_version():
    exc = error(m.check_clusterqueue, CQ.replace("cohortName:", "cohort:"))
    assert "cohortName" in str(exc) and "renamed" in str(exc)
    exc = error(m.check_clusterqueue, CQ_V1BETA1.replace("cohort:", "cohortName:"))
    assert "'cohort'" in str(exc)
    v1beta1_only = CQ.replace("  preemption:", "  admissionChecks: [capacity]\n  preemption:")
    assert "admissionChecks" in str(error(m.check_clusterqueue, v1beta1_only))
    fungible = CQ.replace("  preemption:", "  flavorFungibility: {whenCanBorrow: Borrow}\n  preemption:")
    assert "Borrow" in str(error(m.check_clusterqueue, fungible))
    assert m.check_clusterqueue(fungible.replace("Borrow}", "MayStopSearch}"))["gpu_quota"] == 48


def test_limits_without_a_cohort_are_refused():
    alone = CQ.replace("  cohortName: research\n", "")
    assert "joins no cohort" in str(error(m.check_clusterqueue, alone))


def test_network_attachment_config_must_be_cni_json():
    nad = m.parse_all(tables.artefact(L, "rdma-pod.yaml"))[0]
    assert m.validate(nad) == "course schema"
    broken = {**nad, "spec": {"config": "{not json"}}
    assert "not valid JSON" in str(error(m.validate, broken))
    assert "cniVersion" in str(error(m.validate, {**nad, "spec": {"config": "{\"type\": \"macvlan\"}"}}))


def test_unknown_custom_resources_are_named():
    exc = error(m.validate, {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
                             "metadata": {"name": "x"}})
    assert "custom resource (Volcano)" in str(exc)


# --------------------------------------------------------------------------- GPU workloads

def test_correct_pod_passes_with_summary():
    summary = m.check_gpu_workload(POD, gpus_per_pod=8, qos="Guaranteed", gpu_containers=1, shm_bytes=32 * 2**30)
    assert summary["kind"] == "Pod" and summary["gpus_per_pod"] == 8 and summary["total_gpus"] == 8
    assert summary["qos"] == "Guaranteed" and summary["deprecated"] is None


def test_burstable_pod_is_caught_when_guaranteed_is_wanted():
    burstable = POD.replace('          cpu: "96"\n          memory: 1000Gi\n          nvidia.com/gpu: 8\n      volumeMounts',
                            "          memory: 1000Gi\n          nvidia.com/gpu: 8\n      volumeMounts")
    assert m.check_gpu_workload(burstable)["qos"] == "Burstable"
    assert "QoS class is Burstable" in str(error(m.check_gpu_workload, burstable, qos="Guaranteed"))


def test_shm_must_be_memory_backed_and_large_enough():
    assert "64 MB default" in str(error(m.check_gpu_workload, POD.replace("mountPath: /dev/shm", "mountPath: /data"),
                                        shm_bytes=2**30))
    assert "limited to 64.00 GiB" in str(error(m.check_gpu_workload, POD, shm_bytes=100 * 2**30))
    unbounded = POD.replace("        sizeLimit: 64Gi\n", "")
    assert m.check_gpu_workload(unbounded, shm_bytes=100 * 2**30)["pods"] == 1
    assert m.shm_needed_bytes(8, 6, 100 * 2**20) == 8 * 6 * 2 * 100 * 2**20
    with pytest.raises(ValueError):
        m.shm_needed_bytes(8, -1, 1)


def test_two_gpu_containers_are_refused_when_one_is_asked_for():
    doc = m.parse(POD)
    trainer = doc["spec"]["containers"][0]
    half = json.loads(json.dumps(trainer))
    for section in ("requests", "limits"):
        half["resources"][section]["nvidia.com/gpu"] = 4
    doc["spec"]["containers"] = [half, {**half, "name": "second"}]
    text = yaml.safe_dump(doc)
    assert m.check_gpu_workload(text, gpus_per_pod=8)["gpus_per_pod"] == 8  # the total is 8 ...
    exc = error(m.check_gpu_workload, text, gpus_per_pod=8, gpu_containers=1)  # ... but split over two
    assert "2 containers hold GPUs (4 + 4)" in str(exc)


def test_pytorchjob_must_run_torchrun_when_nproc_per_node_is_above_one():
    summary = m.check_gpu_workload(JOB, gpus_per_pod=8, pods=4)
    assert summary["kind"] == "PyTorchJob" and summary["total_gpus"] == 32
    assert summary["deprecated"] and "TrainJob" in summary["deprecated"]
    hanging = JOB.replace('command: ["torchrun", "train.py"', 'command: ["python", "train.py"')
    exc = error(m.check_gpu_workload, hanging, pods=4)
    assert "WORLD_SIZE=32" in str(exc) and "torchrun" in str(exc)
    module = JOB.replace('command: ["torchrun", "train.py"', 'command: ["python", "-m", "torch.distributed.run", "train.py"')
    assert m.check_gpu_workload(module, pods=4)["pods"] == 4
    shell = JOB.replace('command: ["torchrun", "train.py", "--config", "configs/llm.yaml"]',
                        'command: ["bash", "-c", "cd /w && exec torchrun train.py"]')
    assert m.check_gpu_workload(shell, pods=4)["pods"] == 4
    single = JOB.replace('nprocPerNode: "8"', 'nprocPerNode: "1"').replace(
        'command: ["torchrun", "train.py"', 'command: ["python", "train.py"')
    assert m.check_gpu_workload(single, pods=4)["pods"] == 4


def test_pytorchjob_schema_is_checked():
    assert "replica type" in str(error(m.check_gpu_workload, JOB.replace("    Worker:", "    Workers:")))
    exc = error(m.check_gpu_workload, JOB.replace("restartPolicy: OnFailure", "restartPolicy: Sometimes", 1))
    assert "Sometimes" in str(exc)
    assert "this task wants 5" in str(error(m.check_gpu_workload, JOB, pods=5))
    assert "maximum" in str(error(m.check_gpu_workload, JOB.replace("      replicas: 1\n", "      replicas: 2\n", 1)))


def test_trainjob_passes_and_needs_its_toleration_in_runtime_patches():
    summary = m.check_gpu_workload(TRAINJOB, gpus_per_pod=8, pods=4, qos="Guaranteed")
    assert summary["kind"] == "TrainJob" and summary["total_gpus"] == 32 and summary["deprecated"] is None
    no_patch = TRAINJOB.split("  runtimePatches:")[0]
    exc = error(m.check_gpu_workload, no_patch)
    assert "runtimePatches" in str(exc) and "does not tolerate" in str(exc)


@pytest.mark.parametrize("wrong", ["nvidia.com/gpus", "gpu", "nvidia/gpu", "nvidia.com/GPU"])
def test_wrong_resource_name_is_named_in_the_message(wrong):
    exc = error(m.check_gpu_workload, POD.replace("nvidia.com/gpu: 8", f"{wrong}: 8"))
    assert wrong in str(exc) and "'nvidia.com/gpu'" in str(exc)


def test_missing_or_wrong_toleration_fails_clearly():
    bad = POD.replace("  tolerations:\n    - key: nvidia.com/gpu\n      operator: Exists\n      effect: NoSchedule\n", "")
    assert "tolerations" not in yaml.safe_load(bad)["spec"]
    exc = error(m.check_gpu_workload, bad)
    assert "does not tolerate" in str(exc) and "nvidia.com/gpu=present:NoSchedule" in str(exc)
    assert "no tolerations" in str(exc)
    for toleration in ["- key: nvidia.com/gpu\n      operator: Exists\n      effect: NoExecute",
                       "- key: nvidia.com/gpus\n      operator: Exists\n      effect: NoSchedule",
                       "- key: nvidia.com/gpu\n      operator: Equal\n      value: \"true\"",
                       "- key: nvidia.com/gpu\n      effect: NoSchedule"]:
        assert "none of its tolerations matches" in str(error(m.check_gpu_workload, POD.replace(TOLERATION, toleration)))
    for toleration in ["- key: nvidia.com/gpu\n      operator: Equal\n      value: present\n      effect: NoSchedule",
                       "- key: nvidia.com/gpu\n      operator: Exists", "- operator: Exists"]:
        assert m.check_gpu_workload(POD.replace(TOLERATION, toleration))["gpus_per_pod"] == 8


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


def test_counts_fractions_and_requests_not_equal_limits():
    assert "expected kind" in str(error(m.check_gpu_workload, POD.replace("kind: Pod", "kind: Service")))
    exc = error(m.check_gpu_workload, POD.replace("nvidia.com/gpu: 8", "nvidia.com/gpu: 4", 1))
    assert "differ" in str(exc) and "must be equal" in str(exc)
    four = POD.replace("nvidia.com/gpu: 8", "nvidia.com/gpu: 4")
    assert m.check_gpu_workload(four, gpus_per_pod=4)["total_gpus"] == 4
    assert "this task wants 8" in str(error(m.check_gpu_workload, four, gpus_per_pod=8))
    assert "whole number" in str(error(m.check_gpu_workload, POD.replace("nvidia.com/gpu: 8", "nvidia.com/gpu: 500m")))
    only_requests = POD.replace("          nvidia.com/gpu: 8\n      volumeMounts", "      volumeMounts")
    assert "limits" in str(error(m.check_gpu_workload, only_requests))
    assert "no container asks for nvidia.com/gpu" in str(error(m.check_gpu_workload,
                                                               POD.replace("          nvidia.com/gpu: 8\n", "")))


@pytest.mark.parametrize("resources, expected", [
    ({"limits": {"cpu": "2", "memory": "4Gi"}}, "Guaranteed"),                                  # requests default to limits
    ({"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2000m", "memory": "4096Mi"}}, "Guaranteed"),
    ({"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}, "Burstable"),
    ({"requests": {"cpu": "2"}}, "Burstable"),
    ({"limits": {"cpu": "2"}}, "Burstable"),                                                   # memory missing
    ({"limits": {"nvidia.com/gpu": 8}}, "BestEffort"),                                         # GPUs do not count
    ({}, "BestEffort"),
    ({"requests": {"cpu": "0"}}, "BestEffort"),                                                # zero counts as unset
])
def test_qos_class_follows_the_kubernetes_rules(resources, expected):
    assert m.qos_class(m.parse(pod_with(**resources))) == expected


def test_qos_class_counts_init_containers():
    pod = m.parse(pod_with(limits={"cpu": "2", "memory": "4Gi"}))
    pod["spec"]["initContainers"] = [{"name": "fetch", "image": "i"}]
    assert m.qos_class(pod) == "Burstable"
    assert m.qos_class(pod["spec"]) == "Burstable"  # a spec works too
    with pytest.raises(m.ManifestError):
        m.qos_class({"spec": {"containers": []}})


def test_total_gpus_counts_every_kind_of_pod_group():
    text = "\n---\n".join([
        pod_with(limits={"nvidia.com/gpu": 2}),
        yaml.safe_dump({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                        "spec": {"parallelism": 3, "template": {"spec": {"restartPolicy": "Never", "containers": [
                            {"name": "c", "image": "i", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}),
        yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                        "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                                     {"name": "c", "image": "i", "resources": {"requests": {"nvidia.com/gpu": 1},
                                                                               "limits": {"nvidia.com/gpu": 1}}}]}}}}),
        JOB, TRAINJOB, tables.artefact(L, "jobset.yaml"), tables.artefact(L, "lws.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}",
    ])
    assert m.total_gpus(text) == 2 + 3 + 2 + 32 + 32 + 64 + 48


def test_parse_quantity():
    assert m.parse_quantity(8) == 8 and m.parse_quantity("8") == 8
    assert m.parse_quantity("500m") * 2 == 1
    assert m.parse_quantity("4Ti") == 4 * 2**40 and m.parse_quantity("2k") == 2000 and m.parse_quantity("1e3") == 1000
    with pytest.raises(ValueError):
        m.parse_quantity("eight")


def test_kubernetes_validate_bundles_the_version_used():
    assert m.K8S_VERSION in [v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()]
    assert m.bundled_versions()[-1] == m.K8S_VERSION
    assert m.validate(yaml.safe_load(POD)) == f"kubernetes {m.K8S_VERSION}"


# --------------------------------------------------------------------------- ClusterQueue

def test_clusterqueue_sums_quotas_over_flavors():
    summary = m.check_clusterqueue(CQ, gpu_quota=48, cohort="research", borrowing_limit=16, cpu_quota=384,
                                   name="team-b", reclaim="LowerPriority", api_version="kueue.x-k8s.io/v1beta2")
    assert summary["gpu_quota"] == 48 and summary["cpu_quota"] == 384 and summary["flavors"] == ["h100", "a100"]
    assert summary["cohort"] == "research" and summary["reclaim_within_cohort"] == "LowerPriority"
    assert "this task wants 64" in str(error(m.check_clusterqueue, CQ, gpu_quota=64))
    assert "cohort" in str(error(m.check_clusterqueue, CQ, cohort="prod"))
    assert "cpu quota adds up to 384" in str(error(m.check_clusterqueue, CQ, cpu_quota=512))
    assert "'team-c'" in str(error(m.check_clusterqueue, CQ, name="team-c"))


def test_reclaim_any_is_not_lower_priority():
    anyone = CQ.replace("reclaimWithinCohort: LowerPriority", "reclaimWithinCohort: Any")
    exc = error(m.check_clusterqueue, anyone, reclaim="LowerPriority")
    assert "any priority" in str(exc)
    assert m.check_clusterqueue(CQ.replace("  preemption:\n    reclaimWithinCohort: LowerPriority\n", ""))[
        "reclaim_within_cohort"] == "Never"


def test_clusterqueue_errors():
    exc = error(m.check_clusterqueue, CQ.replace('["cpu", "nvidia.com/gpu"]', '["cpu", "gpu"]'))
    assert "coveredResources lists 'gpu'" in str(exc) and "'nvidia.com/gpu'" in str(exc)
    swapped = CQ.replace("            - name: cpu\n              nominalQuota: 256\n", "", 1).replace(
        "              borrowingLimit: 16\n",
        "              borrowingLimit: 16\n            - name: cpu\n              nominalQuota: 256\n", 1)
    assert "same order" in str(error(m.check_clusterqueue, swapped))
    assert "queueingStrategy" in str(error(m.check_clusterqueue,
                                           CQ.replace("  namespaceSelector: {}", "  queueingStrategy: Random")))
    no_gpu = CQ.replace('["cpu", "nvidia.com/gpu"]', '["cpu"]').replace(
        "            - name: nvidia.com/gpu\n              nominalQuota: 32\n              borrowingLimit: 16\n", "").replace(
        "            - name: nvidia.com/gpu\n              nominalQuota: 16\n", "")
    assert "no resource group covers nvidia.com/gpu" in str(error(m.check_clusterqueue, no_gpu))
    assert "whole numbers" in str(error(m.check_clusterqueue, CQ.replace("nominalQuota: 32", "nominalQuota: 500m")))
    assert "expected kind ClusterQueue" in str(error(m.check_clusterqueue, CQ.replace("kind: ClusterQueue",
                                                                                      "kind: LocalQueue")))


# --------------------------------------------------------------------------- agreement of a namespace's objects

def team_a(*replace: tuple[str, str, str]) -> list[dict]:
    texts = {n: tables.artefact(L, n) for n in ("kueue-setup.yaml", "quota-and-priority.yaml", "pytorchjob.yaml",
                                                 "trainjob.yaml")}
    for name, old, new in replace:
        assert old in texts[name], old
        texts[name] = texts[name].replace(old, new)
    return [doc for text in texts.values() for doc in m.parse_all(text)]


def test_the_team_a_manifests_agree_with_each_other():
    rows = m.agreement(team_a())
    assert len(rows) >= 15
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    checks = " ".join(r["check"] for r in rows)
    for part in ("leaves room for ClusterQueue team-a (nvidia.com/gpu)", "states its CPU and memory requests",
                 "fits ClusterQueue team-a", "is labelled with a LocalQueue", "priority class exists",
                 "within the LimitRange max"):
        assert part in checks


def test_agreement_catches_a_quota_that_makes_borrowing_unusable():
    rows = m.agreement(team_a(("quota-and-priority.yaml", 'requests.nvidia.com/gpu: "96"', 'requests.nvidia.com/gpu: "64"')))
    bad = [r for r in rows if not r["ok"]]
    assert len(bad) == 1 and "nvidia.com/gpu" in bad[0]["check"] and "64" in bad[0]["detail"] and "96" in bad[0]["detail"]


def test_agreement_catches_pods_left_to_the_limitrange_defaults():
    rows = m.agreement(team_a(("pytorchjob.yaml", 'requests: {cpu: "96", memory: 1000Gi, nvidia.com/gpu: 8}',
                               "requests: {nvidia.com/gpu: 8}"),
                              ("pytorchjob.yaml", 'limits: {cpu: "96", memory: 1000Gi, nvidia.com/gpu: 8}',
                               "limits: {nvidia.com/gpu: 8}")))
    bad = [r for r in rows if not r["ok"]]
    assert bad and all("PyTorchJob" in r["check"] for r in bad)
    assert "LimitRange default 1" in bad[0]["detail"] and "4Gi" in bad[0]["detail"]


def test_agreement_catches_wrong_queue_names_and_missing_priority_classes():
    rows = m.agreement(team_a(("trainjob.yaml", "queue-name: team-a-queue", "queue-name: team-b-queue"),
                              ("pytorchjob.yaml", "priorityClassName: production-training",
                               "priorityClassName: urgent")))
    bad = {r["check"] for r in rows if not r["ok"]}
    assert any("TrainJob" in c and "LocalQueue" in c for c in bad)
    assert any("PyTorchJob" in c and "priority class" in c for c in bad)


# --------------------------------------------------------------------------- sbatch

def test_sbatch_correct_script_passes():
    summary = m.check_sbatch(SBATCH, nodes=4, gpus_per_node=8, partition="gpu", program="train.py")
    assert summary["total_gpus"] == 32 and summary["total_tasks"] == 32 and summary["partition"] == "gpu"
    assert summary["command"][:2] == ["python", "train.py"] and summary["processes_per_node"] == 8


@pytest.mark.parametrize("gpu_line", ["#SBATCH --gres=gpu:8", "#SBATCH --gres=gpu:h100:8", "#SBATCH --gpus-per-node 8"])
def test_sbatch_gpu_request_forms(gpu_line):
    assert m.check_sbatch(SBATCH.replace("#SBATCH --gpus-per-node=8", gpu_line))["gpus_per_node"] == 8


def test_sbatch_short_options():
    script = SBATCH.replace("--nodes=4", "-N 4").replace("--partition=gpu", "-p gpu")
    assert m.check_sbatch(script)["nodes"] == 4 and m.check_sbatch(script)["partition"] == "gpu"


def srun(line: str) -> str:
    head = SBATCH.split("srun ")[0]
    return head + line + "\n"


@pytest.mark.parametrize("line, says", [
    ("srun --ntasks=1 python train.py", "starts 1 task(s) in all"),
    ("srun -n 1 python train.py", "starts 1 task(s) in all"),
    ("srun -N1 python train.py", "runs on 1 node(s)"),
    ("srun -N 1 python train.py", "runs on 1 node(s)"),
    ("srun --nodes 2 python train.py", "runs on 2 node(s)"),
    ("srun --ntasks-per-node=1 python train.py", "1 task(s) a node"),
    ("srun torchrun --nproc-per-node=8 train.py", "64 processes a node"),
    ("srun torchrun --nproc_per_node 8 train.py", "64 processes a node"),
    ("srun python -m torch.distributed.run --nproc-per-node=8 train.py", "64 processes a node"),
    ("srun torchrun train.py", "launcher"),
    ("srun bash -c 'torchrun --nproc-per-node=8 train.py'", "64 processes a node"),
    ("srun python other.py", "not train.py"),
])
def test_srun_lines_that_start_the_wrong_processes_are_refused(line, says):
    exc = error(m.check_sbatch, srun(line), program="train.py")
    assert says in str(exc)


@pytest.mark.parametrize("line", [
    "srun --cpu-bind=cores python train.py",
    "srun -l --kill-on-bad-exit=1 python train.py --config x.yaml",
    "srun --ntasks=32 --ntasks-per-node=8 -N 4 python train.py",
    "srun bash -c 'cd /workspace && export RANK=$SLURM_PROCID && python train.py'",
    "srun --container-image=nvcr.io#nvidia/pytorch:26.10-py3 --pty python train.py",
    "srun --export=ALL \\\n  python train.py",
])
def test_valid_srun_lines_pass(line):
    assert m.check_sbatch(srun(line), program="train.py")["processes_per_node"] == 8


def test_one_torchrun_a_node_is_accepted_when_tasks_are_not_one_per_gpu():
    script = srun("srun torchrun --nnodes=4 --nproc-per-node=8 train.py").replace("--ntasks-per-node=8",
                                                                                   "--ntasks-per-node=1")
    summary = m.check_sbatch(script, one_task_per_gpu=False, program="train.py")
    assert summary["processes_per_node"] == 8 and summary["ntasks_per_node"] == 1
    assert "one task per GPU" in str(error(m.check_sbatch, script))
    too_few = script.replace("--nproc-per-node=8", "--nproc-per-node=4")
    assert "4 processes a node" in str(error(m.check_sbatch, too_few, one_task_per_gpu=False))


def test_sbatch_errors_are_clear():
    assert "--nodes is 2" in str(error(m.check_sbatch, SBATCH.replace("--nodes=4", "--nodes=2")))
    assert "no #SBATCH --nodes" in str(error(m.check_sbatch, SBATCH.replace("#SBATCH --nodes=4\n", "")))
    assert "no GPU request" in str(error(m.check_sbatch, SBATCH.replace("#SBATCH --gpus-per-node=8\n", "")))
    assert "4 GPUs a node" in str(error(m.check_sbatch, SBATCH.replace("--gpus-per-node=8", "--gres=gpu:4")))
    assert "'gpus'" in str(error(m.check_sbatch, SBATCH.replace("--gpus-per-node=8", "--gres=gpus:8")))
    assert "one task per GPU" in str(error(m.check_sbatch, SBATCH.replace("--ntasks-per-node=8", "--ntasks-per-node=1")))
    assert "no srun line" in str(error(m.check_sbatch, SBATCH.replace("srun --cpu-bind=cores ", "")))
    assert "line 1" in str(error(m.check_sbatch, SBATCH.replace("#!/bin/bash\n", "")))
    assert "'debug'" in str(error(m.check_sbatch, SBATCH, partition="debug"))
    late = SBATCH.replace("#SBATCH --nodes=4\n", "") + "#SBATCH --nodes=4\n"
    exc = error(m.check_sbatch, late)
    assert "ignored" in str(exc) and exc.line == len(late.splitlines())
    assert "total" in str(error(m.check_sbatch, SBATCH.replace("--gpus-per-node=8", "--gpus=32")))


def test_parse_sbatch_records_ignored_directives_and_env_prefixed_srun():
    script = m.parse_sbatch("#!/bin/bash\n#SBATCH -N 2\necho hi\n#SBATCH --nodes=8\nNCCL_DEBUG=INFO srun python x.py\n")
    assert script.directives["nodes"] == "2" and script.ignored == [(4, "#SBATCH --nodes=8")]
    assert script.srun_lines == [(5, ["python", "x.py"])]
    assert m.srun_command(["-N1", "-n", "8", "--gpus-per-task=1", "python", "a.py"]) == (
        {"nodes": "1", "ntasks": "8", "gpus-per-task": "1"}, ["python", "a.py"])


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
    job = tables.artefact(L, "preemptible-job.yaml")
    assert m.grade_manifest("Q4", job, "Job")["spec"]["backoffLimit"] == 4
    with pytest.raises(ck.WrongAnswer, match="schema error"):
        m.grade_manifest("Q4", job.replace("backoffLimit: 4", "backoffLimt: 4"), "Job")
    with pytest.raises(ck.WrongAnswer, match="expected kind"):
        m.grade_manifest("Q4", job, "Pod")


# --------------------------------------------------------------------------- a Job that survives preemption

PREEMPTIBLE = tables.artefact(L, "preemptible-job.yaml")


def test_preemptible_job_passes_and_reports_what_each_failure_does():
    summary = m.check_preemptible_job(PREEMPTIBLE, gpus=2, exit_code=42, grace_above_s=120, backoff_limit=4)
    assert summary["on_disruption"] == "Ignore" and summary["on_exit_code"] == "FailJob" and summary["on_crash"] == "Count"
    assert summary["grace_period_s"] == 180


@pytest.mark.parametrize("old, new, says", [
    ("restartPolicy: Never", "restartPolicy: OnFailure", "restartPolicy must be Never"),
    ("- type: DisruptionTarget", "- type: Ready", "DisruptionTarget"),
    ("values: [42]", "values: [43]", "code 42 gets action Count"),
    ("terminationGracePeriodSeconds: 180", "terminationGracePeriodSeconds: 100", "SIGKILL would cut it off"),
    ("backoffLimit: 4", "backoffLimit: 6", "backoffLimit is 6"),
    ("containerName: trainer", "containerName: sidecar", "code 42 gets action Count"),
    ("operator: In\n          values: [42]", "operator: NotIn\n          values: [0]", "exit code 1) gets action FailJob"),
])
def test_preemptible_job_mistakes_are_named(old, new, says):
    assert old in PREEMPTIBLE
    exc = error(m.check_preemptible_job, PREEMPTIBLE.replace(old, new), gpus=2, exit_code=42, grace_above_s=120,
                backoff_limit=4)
    assert says in str(exc), str(exc)


def test_preemptible_job_rule_order_matters():
    """A FailJob rule on every non-zero exit placed first also catches the preempted pod (exit code 143)."""
    doc = m.parse(PREEMPTIBLE)
    doc["spec"]["podFailurePolicy"]["rules"] = [
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0, 1]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
    exc = error(m.check_preemptible_job, yaml.safe_dump(doc), exit_code=42)
    assert "gets action FailJob" in str(exc) and "first match wins" in str(exc)
    doc["spec"]["podFailurePolicy"]["rules"].reverse()
    assert m.check_preemptible_job(yaml.safe_dump(doc), exit_code=42)["on_exit_code"] == "FailJob"
    no_policy = PREEMPTIBLE.split("  podFailurePolicy:")[0] + "  template:" + PREEMPTIBLE.split("  template:")[1]
    assert "no spec.podFailurePolicy" in str(error(m.check_preemptible_job, no_policy))
    with pytest.raises(ck.WrongAnswer, match="Job"):
        m.grade_preemptible_job("Q1", POD)
