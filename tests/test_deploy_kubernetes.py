"""deploy/kubernetes/: the Zero to JupyterHub values and the Kubernetes objects for a cohort that outgrows
one server. Offline, all that can be checked: every file parses, every object passes the Kubernetes
schema (strict, infraprep.manifests), the names that tie the files together agree, and the values'
hub.extraConfig runs and gives each cohort its nbgrader groups. Nothing here talks to a cluster."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from infraprep import manifests

K8S = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
OBJECT_FILES = ["exchange-pvc.yaml", "gradebook-secret.example.yaml", "dask.yaml"]


def objects(name: str) -> list[dict]:
    return manifests.parse_all((K8S / name).read_text(encoding="utf-8"), name)


def values() -> dict:
    return yaml.safe_load((K8S / "config.yaml").read_text(encoding="utf-8"))


def test_every_yaml_file_parses():
    found = sorted(p.name for p in K8S.glob("*.yaml"))
    assert found == sorted(["config.yaml", *OBJECT_FILES])
    for name in found:
        assert list(yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", OBJECT_FILES)
def test_every_object_passes_the_kubernetes_schema(name):
    for obj in objects(name):
        assert manifests.validate(obj) == f"kubernetes {manifests.K8S_VERSION}", obj["kind"]


def test_the_exchange_is_a_shared_volume_mounted_where_the_course_looks():
    pvc = next(o for o in objects("exchange-pvc.yaml") if o["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    single = values()["singleuser"]
    volume = next(v for v in single["storage"]["extraVolumes"] if v["name"] == "nbgrader-exchange")
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    mount = next(m for m in single["storage"]["extraVolumeMounts"] if m["name"] == "nbgrader-exchange")
    assert mount["mountPath"] == single["extraEnv"]["INFRAPREP_EXCHANGE"] == "/srv/nbgrader/exchange"
    job = next(o for o in objects("exchange-pvc.yaml") if o["kind"] == "Job")
    assert "chmod 1777" in " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])


def test_the_dask_scheduler_service_matches_its_deployment():
    deployments = {o["metadata"]["name"]: o for o in objects("dask.yaml") if o["kind"] == "Deployment"}
    service = next(o for o in objects("dask.yaml") if o["kind"] == "Service")
    scheduler = deployments["infraprep-dask-scheduler"]
    assert service["spec"]["selector"] == scheduler["spec"]["template"]["metadata"]["labels"]
    assert {p["port"] for p in service["spec"]["ports"]} == {8786, 8787}
    worker = deployments["infraprep-dask-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert f"tcp://{service['metadata']['name']}:8786" in worker["command"]


def _run_extra_config() -> SimpleNamespace:
    from traitlets.config import Config

    c = Config()
    code = values()["hub"]["extraConfig"]["infraprep-nbgrader"]
    exec(compile(code, "hub.extraConfig", "exec"), {"c": c})
    return c


def test_hub_extra_config_gives_each_cohort_its_nbgrader_groups_and_the_gradebook_to_the_instructor_only():
    c = _run_extra_config()
    groups = c.JupyterHub.load_groups
    assert groups["nbgrader-ai-infra-prep-spring"] == {"users": ["ann", "bob"]}
    assert groups["formgrade-ai-infra-prep-spring"] == {"users": ["instructor"]}
    assert set(groups) == {f"{kind}-ai-infra-prep-{cohort}" for kind in ("nbgrader", "formgrade")
                           for cohort in ("spring", "autumn")}
    secret = objects("gradebook-secret.example.yaml")[0]
    for name, uid_expected in (("instructor", 20001), ("ann", 20002)):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name, id=uid_expected - 20000), environment={})
        c.KubeSpawner.pre_spawn_hook(spawner)
        assert c.KubeSpawner.uid(spawner) == uid_expected, "each user's pod runs as a uid of its own"
        if name == "instructor":
            ref = spawner.environment["INFRAPREP_DB"]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret["metadata"]["name"], "url")
            assert "groups!group=nbgrader-ai-infra-prep-spring" in c.KubeSpawner.server_token_scopes(spawner)
        else:
            assert "INFRAPREP_DB" not in spawner.environment, "students never see the gradebook's URL"
            assert not any(s.startswith("groups!") for s in c.KubeSpawner.server_token_scopes(spawner))
    allowed = set(values()["hub"]["config"]["Authenticator"]["allowed_users"])
    assert allowed == {"instructor", *(u for g, spec in groups.items() for u in spec["users"])}
