"""Lesson 4 data: tables, references, example artefacts and the course's CRD JSON Schemas."""

import re
from pathlib import Path

import kubernetes_validate
import pytest

from infraprep import manifests, tables
from infraprep.labs import scheduler

LESSON = "04-kubernetes"
FACT_TABLES = ["gpu_operator", "scheduler_gaps", "ml_schedulers", "slurm_vs_k8s", "topology_policies",
               "policy_objects", "facts", "k8s_versions", "gpu_resource_rules", "queue_objects", "gpu_sharing",
               "mig_strategies", "kueue_admission", "failure_handling", "network_operator", "addon_versions",
               "training_pod_checklist", "kueue_api_history", "kueue_formulas"]


def test_the_lesson_cites_the_sources_it_names():
    refs = tables.references(LESSON)
    for needed in ["k8s-device-plugins", "k8s-taints", "k8s-topology-manager", "k8s-cpu-manager", "k8s-qos",
                   "k8s-resourcequota", "k8s-priority", "k8s-dra", "k8s-pod-failure-policy", "k8s-emptydir",
                   "nvidia-gpu-operator", "nvidia-gpu-operator-mig", "nvidia-network-operator", "multus-cni",
                   "volcano-podgroup", "kueue-clusterqueue", "kueue-api", "kueue-v015", "kueue-tas",
                   "kueue-wait-for-pods-ready", "kueue-fair-sharing", "kueue-multikueue", "kueue-provisioning",
                   "kubeflow-trainer", "kubeflow-trainer-legacy", "jobset", "lws", "argo-workflows",
                   "slurm-sbatch", "slurm-gres", "slurm-fairshare", "slurm-backfill"]:
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
    assert list(tables.load(LESSON, "topology_policies")["policy"]) == list(scheduler.TOPOLOGY_POLICIES)
    assert {"Volcano", "Kueue", "Kubeflow Trainer v2", "Kubeflow Training Operator v1 (legacy)", "JobSet",
            "LeaderWorkerSet", "Argo Workflows", "Slurm"} <= set(tables.load(LESSON, "ml_schedulers")["tool"])
    assert {"ResourceQuota", "LimitRange", "PriorityClass", "QoS class"} <= set(
        tables.load(LESSON, "policy_objects")["object"])
    assert {"MIG", "MPS", "Time-slicing", "DRA"} <= {m.split()[0] for m in tables.load(LESSON, "gpu_sharing")["mechanism"]}
    assert list(tables.load(LESSON, "mig_strategies")["strategy"]) == ["none", "single", "mixed"]
    admission = " ".join(tables.load(LESSON, "kueue_admission")["mechanism"])
    for part in ["Quota", "Topology-aware", "waitForPodsReady", "ProvisioningRequest", "Fair Sharing", "MultiKueue"]:
        assert part in admission
    failure = " ".join(tables.load(LESSON, "failure_handling")["step_or_setting"])
    for part in ["terminationGracePeriodSeconds", "podFailurePolicy", "Kueue preemption", "JobSet failurePolicy"]:
        assert part in failure


def test_topology_table_agrees_with_the_admission_rule():
    """The table's verdicts for an 8-GPU pod on a 2-socket, 4-GPUs-a-socket node are what numa_admits computes."""
    table = tables.load(LESSON, "topology_policies").set_index("policy")
    column = "admits_an_8_gpu_pod_on_a_2_socket_node_with_4_gpus_a_socket"
    for policy in scheduler.TOPOLOGY_POLICIES:
        verdict = table.loc[policy, column].startswith("Yes")
        assert verdict == scheduler.numa_admits(policy, 8, [4, 4], [4, 4]), policy
    assert "narrowest" in table.loc["restricted", "what_the_kubelet_enforces"]
    assert "one NUMA node" not in table.loc["restricted", "what_the_kubelet_enforces"]


def test_mig_resource_names_appear_only_with_the_mixed_strategy():
    strategies = tables.load(LESSON, "mig_strategies").set_index("strategy")
    assert "nvidia.com/mig-" in strategies.loc["mixed", "what_nodes_advertise"]
    assert "nvidia.com/mig-" not in strategies.loc["single", "what_nodes_advertise"]
    assert "nvidia.com/gpu" in strategies.loc["single", "what_nodes_advertise"]
    rules = " ".join(tables.load(LESSON, "gpu_resource_rules")["what_it_means"])
    assert "only with mixed" in rules


def test_facts_match_their_sources():
    facts = tables.load(LESSON, "facts").set_index("fact")["value"]
    assert facts["GPUs in one DGX H100 node (one NVLink domain)"] == 8
    assert facts["CPU cores in one DGX H100 (two Xeon Platinum 8480C)"] == 2 * 56
    assert facts["System memory of one DGX H100"] == 2
    assert facts["Largest PriorityClass value allowed for user classes"] == 1_000_000_000
    assert facts["Default terminationGracePeriodSeconds of a pod"] == 30
    assert facts["Default size of /dev/shm in a container (Docker and containerd)"] == 64
    assert facts["Default backoff base of a Kueue requeue (backoffBaseSeconds)"] == 60
    assert facts["Default cap of a Kueue requeue backoff (backoffMaxSeconds)"] == 3600
    assert facts["Default DataLoader prefetch_factor (batches each worker loads ahead)"] == 2
    assert facts["Most NUMA nodes the Topology Manager handles by default"] == 8
    # the two limits below are the API's own validation rules, which the course schema copies
    assert facts["Most worker clusters in one MultiKueueConfig"] == \
        manifests.crd_schema("MultiKueueConfig")["$defs"]["multiKueueConfigSpec"]["properties"]["clusters"]["maxItems"]
    assert facts["Most resource groups in one ClusterQueue"] == \
        manifests.crd_schema("ClusterQueue")["$defs"]["clusterQueueSpec.v1beta2"]["properties"]["resourceGroups"]["maxItems"]
    defaults = scheduler.kueue_requeue_delays(1)
    assert defaults == [facts["Default backoff base of a Kueue requeue (backoffBaseSeconds)"]]


def test_versions_match_the_bundled_schemas():
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
    assert versions["First release with the stable DRA API (resource.k8s.io/v1)"] == first("resourceclaim-resource-v1.json")
    assert versions["First release with the built-in Workload (gang scheduling) API as alpha"] == first(
        "workload-scheduling-v1alpha*.json")
    assert versions["First release with the Workload API as beta"] == first("workload-scheduling-v1beta*.json")
    assert versions["First release with the PodGroup API as beta"] == first("podgroup-scheduling-v1beta*.json")


def test_add_on_versions_and_kueue_history_are_dated_and_ordered():
    addons = tables.load(LESSON, "addon_versions")
    assert addons["released"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert addons["latest_release"].str.fullmatch(r"v\d+\.\d+\.\d+").all()
    kueue = addons.set_index("project").loc["Kueue"]
    assert "v1beta2" in kueue["api_taught_here"]
    history = tables.load(LESSON, "kueue_api_history")
    minors = [int(re.match(r"v0\.(\d+)", v)[1]) for v in history["kueue_version"]]
    assert minors == sorted(minors) and minors[0] == 15
    assert int(kueue["latest_release"].split(".")[1]) >= 19


def test_practice_answers_are_options():
    practice = tables.load(LESSON, "practice")
    assert len(practice) >= 10
    for row in practice.itertuples():
        assert row.answer in "ABCD" and isinstance(getattr(row, row.answer.lower()), str)


def test_practice_topology_item_agrees_with_the_admission_rule():
    item = tables.load(LESSON, "practice").set_index("question")
    row = item.loc[[q for q in item.index if "restricted policy" in q][0]]
    assert "one on each" in row[row["answer"].lower()]
    assert not scheduler.numa_admits("restricted", 2, [4, 4], [1, 1])
    assert scheduler.numa_admits("restricted", 8, [4, 4], [4, 4]) and scheduler.numa_admits("restricted", 2, [4, 4], [3, 1])


def test_example_artefacts_pass_their_checks():
    pod = manifests.check_gpu_workload(tables.artefact(LESSON, "gpu-pod.yaml"), qos="Guaranteed", gpu_containers=1,
                                       shm_bytes=32 * 2**30)
    assert pod["total_gpus"] == 8
    job = manifests.check_gpu_workload(tables.artefact(LESSON, "pytorchjob.yaml"), pods=4, qos="Guaranteed")
    assert job["total_gpus"] == 32 and job["deprecated"]
    assert manifests.check_gpu_workload(tables.artefact(LESSON, "trainjob.yaml"), pods=4)["total_gpus"] == 32
    assert manifests.check_sbatch(tables.artefact(LESSON, "train.sbatch"), program="train.py")["total_gpus"] == 32
    torchrun = manifests.check_sbatch(tables.artefact(LESSON, "train-torchrun.sbatch"), one_task_per_gpu=False,
                                      program="train.py")
    assert torchrun["total_tasks"] == 4 and torchrun["processes_per_node"] == 8
    docs = manifests.parse_all(tables.artefact(LESSON, "kueue-setup.yaml"))
    assert [d["kind"] for d in docs] == ["Topology", "ResourceFlavor", "ClusterQueue", "LocalQueue"]
    topology, flavor, cq, lq = docs
    assert lq["spec"]["clusterQueue"] == cq["metadata"]["name"]
    assert cq["spec"]["resourceGroups"][0]["flavors"][0]["name"] == flavor["metadata"]["name"]
    assert flavor["spec"]["topologyName"] == topology["metadata"]["name"]
    assert topology["spec"]["levels"][-1]["nodeLabel"] == "kubernetes.io/hostname"


def test_pytorchjob_artefact_runs_torchrun_for_its_processes():
    job = manifests.parse(tables.artefact(LESSON, "pytorchjob.yaml"))
    assert job["spec"]["nprocPerNode"] == "8"
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        assert replica["template"]["spec"]["containers"][0]["command"][0] == "torchrun"


def test_team_a_quotas_are_consistent():
    """The ResourceQuota leaves room for nominal + borrowing, and the pods do not fall back to LimitRange defaults."""
    docs = [d for n in ("kueue-setup.yaml", "quota-and-priority.yaml", "pytorchjob.yaml", "trainjob.yaml",
                        "gpu-pod.yaml", "preemptible-job.yaml", "jobset.yaml")
            for d in manifests.parse_all(tables.artefact(LESSON, n))]
    rows = manifests.agreement(docs)
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    quota = next(d for d in docs if d["kind"] == "ResourceQuota")["spec"]["hard"]
    cq = next(d for d in docs if d["kind"] == "ClusterQueue")
    gpu = next(r for r in cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"] if r["name"] == "nvidia.com/gpu")
    assert int(quota["requests.nvidia.com/gpu"]) == gpu["nominalQuota"] + gpu["borrowingLimit"]


def test_cohort_numbers_used_by_the_lesson():
    cqs = {d["metadata"]["name"]: d for n in ("kueue-setup.yaml", "kueue-cohort.yaml")
           for d in manifests.parse_all(tables.artefact(LESSON, n)) if d["kind"] == "ClusterQueue"}
    assert set(cqs) == {"team-a", "team-b", "team-c"}
    assert {c["spec"]["cohortName"] for c in cqs.values()} == {"research"}
    weights = {name: float(c["spec"]["fairSharing"]["weight"]) for name, c in cqs.items()}
    assert weights == {"team-a": 1.0, "team-b": 2.0, "team-c": 1.0}


def test_kueue_config_sets_what_the_lesson_describes():
    config = manifests.parse(tables.artefact(LESSON, "kueue-config.yaml"))
    assert manifests.validate(config) == "course schema"
    wait = config["waitForPodsReady"]
    assert wait["timeout"] == "10m" and wait["requeuingStrategy"]["backoffBaseSeconds"] == 60
    assert "trainer.kubeflow.org/trainjob" in config["integrations"]["frameworks"]
    bad = {**config, "fairSharing": {"preemptionStrategies": ["LessThanInitialShare", "LessThanOrEqualToFinalShare"]}}
    with pytest.raises(manifests.ManifestError):
        manifests.validate(bad)


def test_preemptible_job_ignores_disruptions_and_outlasts_the_default_grace_period():
    job = manifests.parse(tables.artefact(LESSON, "preemptible-job.yaml"))
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]} in rules
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    facts = tables.load(LESSON, "facts").set_index("fact")["value"]
    assert pod["terminationGracePeriodSeconds"] > facts["Default terminationGracePeriodSeconds of a pod"]


def test_device_plugin_configs_parse_and_say_what_the_table_says():
    config = manifests.parse(tables.artefact(LESSON, "device-plugin-sharing.yaml"))
    sliced = manifests.load_yaml(config["data"]["time-sliced"])
    assert sliced["sharing"]["timeSlicing"]["renameByDefault"] is True
    assert manifests.load_yaml(config["data"]["mps"])["sharing"]["mps"]["resources"][0]["replicas"] == 4
    assert manifests.load_yaml(config["data"]["mig-mixed"])["flags"]["migStrategy"] == "mixed"


def test_units_in_column_names_and_no_bare_numbers_in_text_tables():
    facts = tables.load(LESSON, "facts")
    assert {"fact", "value", "unit", "source"} == set(facts.columns)
    assert all(re.fullmatch(r"[A-Za-z]+", u) for u in facts["unit"])
    jobs = scheduler.jobs_table(scheduler.deadlock_scenario())
    assert {"arrival_step", "gpus_per_pod", "duration_steps"} <= set(jobs.columns)
