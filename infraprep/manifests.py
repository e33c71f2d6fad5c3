"""Parse and check Kubernetes manifests and Slurm batch scripts: the one place for this in the course.

Three layers, each with its own clear error message:

1. **Syntax.** :func:`parse` reads YAML with PyYAML's safe loader. A syntax
   error becomes a :class:`ManifestError` that names the line and column.
2. **Schema.** :func:`validate` checks a built-in kind (Pod, Job,
   PriorityClass, ResourceQuota...) against the real Kubernetes OpenAPI schema,
   offline, with the ``kubernetes-validate`` package (it bundles the JSON
   Schemas of Kubernetes 1.25 to 1.37; we use :data:`K8S_VERSION` in *strict*
   mode, so an unknown field such as a misspelt ``toleration:`` is an error).
   Custom resources have no schema there, so Kueue's ``ClusterQueue`` and
   Kubeflow's ``PyTorchJob`` are checked with JSON Schemas written for this
   course from their API references (``infraprep/data/04-kubernetes/*.schema.json``),
   and a PyTorchJob's pod templates are then checked against the real
   Kubernetes ``PodTemplate`` schema.
3. **Meaning.** :func:`check_gpu_workload`, :func:`check_clusterqueue` and
   :func:`check_sbatch` look field by field: the GPU resource name
   (``nvidia.com/gpu``), whole-number counts, requests equal to limits,
   a toleration that matches the GPU pool's taint (Kubernetes' own matching
   rules, :func:`tolerates`), Kueue quotas, and for Slurm the ``#SBATCH``
   directives (``--nodes``, ``--gres=gpu:N`` or ``--gpus-per-node``,
   ``--ntasks-per-node``) and the ``srun`` line.

Graded notebooks call the ``form_*`` functions in visible tests (the text
parses and is the right kind) and the ``grade_*`` functions in hidden tests;
both turn a :class:`ManifestError` into a :mod:`infraprep.checking` error, so
the learner sees one line that explains what is wrong, never a traceback.

Sources: Kubernetes docs (device plugins, Schedule GPUs, taints and
tolerations), Kueue and Kubeflow API references, sbatch(1) and srun(1).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

import yaml

from . import checking as ck
from .tables import artefact_path

__all__ = [
    "K8S_VERSION", "GPU_RESOURCE", "ManifestError", "Taint", "GPU_TAINT",
    "parse", "parse_all", "validate", "validate_k8s", "validate_crd", "crd_schema",
    "tolerates", "pod_templates", "gpu_count", "check_gpu_workload", "check_clusterqueue",
    "SbatchScript", "parse_sbatch", "check_sbatch", "parse_quantity",
    "form_manifest", "form_sbatch", "grade_gpu_workload", "grade_clusterqueue", "grade_sbatch",
]

#: Kubernetes version whose schemas we validate against (bundled by kubernetes-validate 1.37.0).
K8S_VERSION = "1.37"
#: The extended resource the NVIDIA device plugin advertises: whole GPUs.
GPU_RESOURCE = "nvidia.com/gpu"

LESSON = "04-kubernetes"
CRD_SCHEMAS = {
    ("kueue.x-k8s.io", "ClusterQueue"): "clusterqueue.schema.json",
    ("kubeflow.org", "PyTorchJob"): "pytorchjob.schema.json",
}


CRD_GROUPS = {"kueue.x-k8s.io": "Kueue", "kubeflow.org": "Kubeflow", "scheduling.volcano.sh": "Volcano",
              "batch.volcano.sh": "Volcano", "argoproj.io": "Argo"}


class ManifestError(ValueError):
    """A manifest or batch script is wrong. ``line`` (1-based) and ``path`` locate it when known."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None):
        self.line = line
        self.path = path
        super().__init__(message)


# --------------------------------------------------------------------------- syntax

def _text(text: Any, what: str) -> str:
    if text is Ellipsis or text is None:
        raise ManifestError(f"the {what} is empty: write it as a text string")
    if type(text) is not str:
        raise ManifestError(f"the {what} should be text (a string in triple quotes), got {type(text).__name__}")
    if not text.strip():
        raise ManifestError(f"the {what} is empty: write it as a text string")
    return text


def _yaml_error(exc: yaml.YAMLError) -> ManifestError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else str(problem)
    if "\\t" in detail or "'\\t'" in detail:
        detail += "; YAML does not allow tabs for indentation, use spaces"
    if mark is not None:
        return ManifestError(f"YAML syntax error on line {mark.line + 1}, column {mark.column + 1}: {detail}",
                             line=mark.line + 1)
    return ManifestError(f"YAML syntax error: {detail}")


def parse_all(text: Any, what: str = "manifest") -> list[dict]:
    """Every non-empty YAML document in ``text``, each a mapping; ManifestError names the line on a syntax error."""
    source = _text(text, what)
    try:
        documents = [doc for doc in yaml.safe_load_all(source) if doc is not None]
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    if not documents:
        raise ManifestError(f"the {what} holds no YAML document (only comments or blank lines)")
    for number, doc in enumerate(documents, 1):
        if not isinstance(doc, dict):
            raise ManifestError(f"YAML document {number} is a {type(doc).__name__}, not a mapping of fields "
                                "(it should start with apiVersion: and kind:)")
    return documents


def parse(text: Any, what: str = "manifest") -> dict:
    """One YAML document as a dict (use :func:`parse_all` for several separated by ``---``)."""
    documents = parse_all(text, what)
    if len(documents) != 1:
        raise ManifestError(f"expected one YAML document, found {len(documents)} (separated by ---)")
    return documents[0]


def _kind(obj: dict) -> tuple[str, str]:
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api, str) or not api:
        raise ManifestError("the manifest has no apiVersion (for example apiVersion: v1)", path="apiVersion")
    if not isinstance(kind, str) or not kind:
        raise ManifestError("the manifest has no kind (for example kind: Pod)", path="kind")
    return api, kind


# --------------------------------------------------------------------------- schema

def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate_k8s(obj: dict, version: str = K8S_VERSION, strict: bool = True) -> str:
    """Validate a built-in kind against the Kubernetes schema; return the version used."""
    import kubernetes_validate as kv

    api, kind = _kind(obj)
    try:
        return kv.validate(obj, version, strict=strict)
    except kv.SchemaNotFoundError:
        raise ManifestError(f"Kubernetes {version} has no kind {kind!r} in apiVersion {api!r}: "
                            "check the spelling of kind and apiVersion", path="kind") from None
    except kv.ValidationError as exc:
        where = _path(exc.path)
        raise ManifestError(f"schema error at {where}: {exc.message}", path=where) from None


@lru_cache(maxsize=None)
def _schema_text(name: str) -> str:
    return artefact_path(LESSON, name).read_text(encoding="utf-8")


def crd_schema(kind: str) -> dict:
    """The course's JSON Schema for a custom resource kind (``ClusterQueue`` or ``PyTorchJob``)."""
    for (_group, known), name in CRD_SCHEMAS.items():
        if known == kind:
            return json.loads(_schema_text(name))
    raise KeyError(f"no course schema for kind {kind!r}; known: {', '.join(k for _g, k in CRD_SCHEMAS)}")


def _crd_file(obj: dict) -> str | None:
    api, kind = _kind(obj)
    group = api.split("/", 1)[0] if "/" in api else ""
    return CRD_SCHEMAS.get((group, kind))


def validate_crd(obj: dict) -> None:
    """Validate a custom resource against the course's JSON Schema (and nested pod templates)."""
    import jsonschema

    api, kind = _kind(obj)
    name = _crd_file(obj)
    if name is None:
        raise ManifestError(f"no schema for custom resource {kind!r} in {api!r}")
    schema = json.loads(_schema_text(name))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        where = _path(best.absolute_path)
        message = best.message
        if best.validator == "not" and "cohort" in json.dumps(best.validator_value):
            message = ("Kueue v1beta1 names the cohort field 'cohort' and v1beta2 names it 'cohortName'; "
                       "use the one that matches apiVersion")
        elif "propertyNames" in list(best.absolute_schema_path):
            message = f"{best.instance!r} is not a replica type; PyTorchJob uses Master and Worker"
        raise ManifestError(f"schema error at {where}: {message}", path=where)
    if kind == "PyTorchJob":
        for label, template, _replicas in pod_templates(obj):
            wrapper = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"}, "template": template}
            try:
                validate_k8s(wrapper)
            except ManifestError as exc:
                inner = (exc.path or "").replace("template", f"spec.pytorchReplicaSpecs.{label}.template", 1)
                message = str(exc).replace(exc.path or "\0", inner, 1) if exc.path else str(exc)
                raise ManifestError(message, path=inner) from None
    if kind == "ClusterQueue":
        for g, group in enumerate(obj["spec"].get("resourceGroups", [])):
            covered = list(group["coveredResources"])
            for f, flavor in enumerate(group["flavors"]):
                names = [r["name"] for r in flavor["resources"]]
                if names != covered:
                    raise ManifestError(
                        f"schema error at spec.resourceGroups[{g}].flavors[{f}].resources: Kueue requires each flavor "
                        f"to list the covered resources {covered} in the same order; it lists {names}",
                        path=f"spec.resourceGroups[{g}].flavors[{f}].resources")


def validate(obj: dict, version: str = K8S_VERSION) -> str:
    """Validate any supported object; return ``"kubernetes <version>"`` or ``"course schema"``."""
    if _crd_file(obj) is not None:
        validate_crd(obj)
        return "course schema"
    api, kind = _kind(obj)
    group = api.split("/", 1)[0] if "/" in api else ""
    if group in CRD_GROUPS:
        known = ", ".join(f"{k} ({g})" for g, k in CRD_SCHEMAS)
        raise ManifestError(f"{kind} in {api} is a custom resource ({CRD_GROUPS[group]}); the course has schemas "
                            f"only for {known}, so it cannot be validated here", path="kind")
    return f"kubernetes {validate_k8s(obj, version)}"


# --------------------------------------------------------------------------- meaning

@dataclass(frozen=True)
class Taint:
    """A node taint ``key=value:effect`` (value may be empty)."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"

    @classmethod
    def parse(cls, text: str) -> "Taint":
        """``"nvidia.com/gpu=present:NoSchedule"`` -> Taint (the kubectl taint syntax)."""
        match = re.fullmatch(r"\s*([^=:\s]+)(?:=([^:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)\s*", text)
        if not match:
            raise ValueError(f"not a taint in key=value:Effect form: {text!r}")
        return cls(match[1], match[2] or "", match[3])


#: The GPU pool taint used in the lesson (the GPU Operator docs use this key).
GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")


def tolerates(toleration: dict, taint: Taint) -> bool:
    """Kubernetes' matching rule: does one toleration tolerate ``taint``?

    Effects match if equal or the toleration's effect is empty (all effects).
    Operator ``Exists`` matches any value (an empty key with Exists matches
    every taint); ``Equal`` (the default) needs the same key and value.
    """
    if not isinstance(toleration, dict):
        return False
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    operator = toleration.get("operator") or "Equal"
    key = toleration.get("key") or ""
    if operator == "Exists":
        return key == "" or key == taint.key
    if operator == "Equal":
        return key == taint.key and str(toleration.get("value") or "") == taint.value
    return False


_QUANTITY = re.compile(r"^([+-]?(?:\d+|\d+\.\d*|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?$")
_SUFFIX = {"": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
           "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes quantity (``8``, ``"8"``, ``"500m"``, ``"4Ti"``) as an exact Fraction."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = Fraction(match[1]), match[2] or ""
    if suffix[:1] in "eE" and suffix:
        return number * Fraction(10) ** int(suffix[1:])
    return number * _SUFFIX[suffix]


def pod_templates(obj: dict) -> list[tuple[str, dict, int]]:
    """``(label, pod template, replicas)`` for a Pod, Job, Deployment-like object or PyTorchJob."""
    api, kind = _kind(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise ManifestError(f"the {kind} has no spec", path="spec")
    if kind == "Pod":
        return [("Pod", {"metadata": obj.get("metadata", {}), "spec": spec}, 1)]
    if kind == "PyTorchJob":
        replica_specs = spec.get("pytorchReplicaSpecs") or {}
        out = []
        for label in ("Master", "Worker"):
            if label in replica_specs:
                replica = replica_specs[label] or {}
                out.append((label, replica.get("template") or {}, int(replica.get("replicas", 1))))
        if not out:
            raise ManifestError("the PyTorchJob has no Master or Worker in spec.pytorchReplicaSpecs",
                                path="spec.pytorchReplicaSpecs")
        return out
    template = spec.get("template")
    if isinstance(template, dict):
        return [(kind, template, int(spec.get("replicas", spec.get("parallelism", 1)) or 1))]
    raise ManifestError(f"a {kind} has no pod template this checker understands", path="spec")


def _near_gpu_name(name: str) -> bool:
    lowered = name.lower()
    return name != GPU_RESOURCE and ("gpu" in lowered or "nvidia" in lowered)


def gpu_count(container: dict, where: str) -> int:
    """GPUs a container asks for, after checking name, whole numbers and requests == limits."""
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        for name in values:
            if _near_gpu_name(str(name)):
                raise ManifestError(
                    f"{where}.resources.{section} asks for {name!r}: the NVIDIA device plugin advertises GPUs as "
                    f"{GPU_RESOURCE!r} (exactly that name), so no node offers {name!r} and the pod would stay Pending",
                    path=f"{where}.resources.{section}")
    if GPU_RESOURCE in requests and GPU_RESOURCE not in limits:
        raise ManifestError(f"{where} sets {GPU_RESOURCE} in requests but not in limits; extended resources "
                            "must be set in limits (requests may be left out: they default to the limit)",
                            path=f"{where}.resources.limits")
    if GPU_RESOURCE not in limits:
        return 0
    counts = {}
    for section, values in (("limits", limits), ("requests", requests)):
        if GPU_RESOURCE in values:
            try:
                quantity = parse_quantity(values[GPU_RESOURCE])
            except ValueError:
                raise ManifestError(f"{where}.resources.{section}.{GPU_RESOURCE} is {values[GPU_RESOURCE]!r}, "
                                    "not a number", path=f"{where}.resources.{section}") from None
            if quantity.denominator != 1 or quantity < 0:
                raise ManifestError(f"{where}.resources.{section}.{GPU_RESOURCE} must be a whole number of GPUs "
                                    "(the device plugin hands out whole devices)", path=f"{where}.resources.{section}")
            counts[section] = int(quantity)
    if "requests" in counts and counts["requests"] != counts["limits"]:
        raise ManifestError(f"{where}: {GPU_RESOURCE} requests ({counts['requests']}) and limits ({counts['limits']}) "
                            "differ; extended resources cannot be overcommitted, so they must be equal",
                            path=f"{where}.resources")
    return counts["limits"]


def check_gpu_workload(text: Any, gpus_per_pod: int = 8, taint: Taint | str | None = GPU_TAINT,
                       kinds: tuple[str, ...] = ("Pod", "PyTorchJob"), pods: int | None = None,
                       version: str = K8S_VERSION) -> dict:
    """Parse, validate and check a GPU Pod or PyTorchJob; return a summary or raise ManifestError.

    Checks: right kind; schema; every pod asks for exactly ``gpus_per_pod``
    ``nvidia.com/gpu`` (requests equal to limits if both are set); every pod
    tolerates ``taint``; optionally the total number of pods.
    Returns ``{"kind", "name", "pods", "gpus_per_pod", "total_gpus", "tolerations"}``.
    """
    obj = parse(text)
    _api, kind = _kind(obj)
    if kind not in kinds:
        raise ManifestError(f"expected kind {' or '.join(kinds)}, got {kind!r}", path="kind")
    validate(obj, version)
    if isinstance(taint, str):
        taint = Taint.parse(taint)
    total_pods, per_pod, tolerations_seen = 0, set(), []
    for label, template, replicas in pod_templates(obj):
        spec = template.get("spec") or {}
        base = "spec" if kind == "Pod" else f"spec.pytorchReplicaSpecs.{label}.template.spec"
        containers = spec.get("containers") or []
        gpus = sum(gpu_count(c, f"{base}.containers[{i}]") for i, c in enumerate(containers))
        if gpus == 0:
            raise ManifestError(f"{label}: no container asks for {GPU_RESOURCE} in resources.limits, so the pod "
                                "gets no GPU", path=f"{base}.containers")
        if gpus != gpus_per_pod:
            raise ManifestError(f"{label}: the pod asks for {gpus} GPUs in total; this task wants {gpus_per_pod} "
                                "per pod", path=f"{base}.containers")
        tolerations = spec.get("tolerations") or []
        if taint is not None and not any(tolerates(t, taint) for t in tolerations):
            if not tolerations:
                reason = "it has no tolerations"
            else:
                reason = "none of its tolerations matches (check key, operator/value and effect)"
            raise ManifestError(f"{label}: the pod does not tolerate the GPU pool's taint {taint}, so the scheduler "
                                f"will not place it on those nodes; {reason}", path=f"{base}.tolerations")
        total_pods += replicas
        per_pod.add(gpus)
        tolerations_seen.extend(tolerations)
    if pods is not None and total_pods != pods:
        raise ManifestError(f"the {kind} makes {total_pods} pods; this task wants {pods}")
    name = (obj.get("metadata") or {}).get("name")
    return {"kind": kind, "name": name, "pods": total_pods, "gpus_per_pod": per_pod.pop(),
            "total_gpus": total_pods * gpus_per_pod, "tolerations": tolerations_seen}


def check_clusterqueue(text: Any, gpu_quota: int | None = None, cohort: str | None = None,
                       borrowing_limit: int | None = None) -> dict:
    """Parse, validate and check a Kueue ClusterQueue with a GPU quota; return a summary.

    Returns ``{"name", "api_version", "cohort", "gpu_quota", "gpu_borrowing_limit",
    "gpu_lending_limit", "flavors"}`` where quotas add up over flavors (None when no flavor sets a limit).
    """
    obj = parse(text, "ClusterQueue")
    api, kind = _kind(obj)
    if kind != "ClusterQueue":
        raise ManifestError(f"expected kind ClusterQueue, got {kind!r}", path="kind")
    raw_groups = (obj.get("spec") or {}).get("resourceGroups") if isinstance(obj.get("spec"), dict) else None
    for g, group in enumerate(raw_groups if isinstance(raw_groups, list) else []):
        covered = group.get("coveredResources") if isinstance(group, dict) else None
        for name in covered if isinstance(covered, list) else []:
            if isinstance(name, str) and _near_gpu_name(name):
                raise ManifestError(f"spec.resourceGroups[{g}].coveredResources lists {name!r}; Kueue counts the "
                                    f"GPUs pods request, which are named {GPU_RESOURCE!r}",
                                    path=f"spec.resourceGroups[{g}].coveredResources")
    validate(obj)
    spec = obj["spec"]
    groups = spec.get("resourceGroups") or []
    gpu_groups = [g for g in groups if GPU_RESOURCE in g["coveredResources"]]
    if not gpu_groups:
        raise ManifestError(f"no resource group covers {GPU_RESOURCE}, so this ClusterQueue sets no GPU quota",
                            path="spec.resourceGroups")
    quota, borrow, lend, flavors = Fraction(0), None, None, []
    for group in gpu_groups:
        for flavor in group["flavors"]:
            flavors.append(flavor["name"])
            for res in flavor["resources"]:
                if res["name"] != GPU_RESOURCE:
                    continue
                for key in ("nominalQuota", "borrowingLimit", "lendingLimit"):
                    if key in res and parse_quantity(res[key]).denominator != 1:
                        raise ManifestError(f"flavor {flavor['name']!r}: the {GPU_RESOURCE} {key} is {res[key]!r}; "
                                            "GPU quotas are whole numbers of GPUs", path="spec.resourceGroups")
                quota += parse_quantity(res["nominalQuota"])
                if "borrowingLimit" in res:
                    borrow = (borrow or 0) + parse_quantity(res["borrowingLimit"])
                if "lendingLimit" in res:
                    lend = (lend or 0) + parse_quantity(res["lendingLimit"])
    cohort_name = spec.get("cohort", spec.get("cohortName"))
    summary = {"name": obj["metadata"]["name"], "api_version": api, "cohort": cohort_name,
               "gpu_quota": int(quota),
               "gpu_borrowing_limit": None if borrow is None else int(borrow),
               "gpu_lending_limit": None if lend is None else int(lend), "flavors": flavors}
    if gpu_quota is not None and summary["gpu_quota"] != gpu_quota:
        raise ManifestError(f"the nominal GPU quota adds up to {summary['gpu_quota']}; this task wants {gpu_quota}",
                            path="spec.resourceGroups")
    if cohort is not None and cohort_name != cohort:
        field_name = "cohort" if api.endswith("v1beta1") else "cohortName"
        raise ManifestError(f"the ClusterQueue should join cohort {cohort!r} (spec.{field_name}); it has {cohort_name!r}",
                            path=f"spec.{field_name}")
    if borrowing_limit is not None and summary["gpu_borrowing_limit"] != borrowing_limit:
        raise ManifestError(f"the GPU borrowingLimit is {summary['gpu_borrowing_limit']}; this task wants "
                            f"{borrowing_limit}", path="spec.resourceGroups")
    return summary


# --------------------------------------------------------------------------- Slurm

_SHORT = {"N": "nodes", "n": "ntasks", "p": "partition", "G": "gpus", "J": "job-name", "t": "time",
          "c": "cpus-per-task", "o": "output", "e": "error", "A": "account", "q": "qos"}


@dataclass
class SbatchScript:
    """What sbatch would read: directives (long names), ignored directives, and the srun lines."""

    shebang: str
    directives: dict[str, str] = field(default_factory=dict)
    directive_lines: dict[str, int] = field(default_factory=dict)
    ignored: list[tuple[int, str]] = field(default_factory=list)
    srun_lines: list[tuple[int, list[str]]] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.directives.get(name, default)


def _split_option(token: str, rest: list[str], line: int) -> tuple[str, str]:
    if token.startswith("--"):
        name, _, value = token[2:].partition("=")
        if not _:
            value = rest.pop(0) if rest and not rest[0].startswith("-") else ""
        return name, value
    if token.startswith("-") and len(token) >= 2:
        letter, value = token[1], token[2:].lstrip("=")
        if not value:
            value = rest.pop(0) if rest else ""
        if letter not in _SHORT:
            raise ManifestError(f"line {line}: unknown short option -{letter}", line=line)
        return _SHORT[letter], value
    raise ManifestError(f"line {line}: {token!r} is not an option (options start with - or --)", line=line)


def parse_sbatch(text: Any) -> SbatchScript:
    """Read a batch script the way sbatch does.

    The first line must be a ``#!`` interpreter line; ``#SBATCH`` directives
    count only before the first command (sbatch stops reading them there, so a
    later one is reported in ``ignored``); every ``srun`` command is recorded
    with its arguments.
    """
    source = _text(text, "batch script")
    lines = source.splitlines()
    if not lines[0].startswith("#!"):
        raise ManifestError("line 1: a batch script must start with an interpreter line such as #!/bin/bash "
                            "(sbatch refuses a script without one)", line=1)
    script = SbatchScript(shebang=lines[0][2:].strip())
    commands_started = False
    for number, raw in enumerate(lines[1:], start=2):
        stripped = raw.strip()
        if stripped.startswith("#SBATCH"):
            body = stripped[len("#SBATCH"):]
            if body and not body[0].isspace():
                raise ManifestError(f"line {number}: write '#SBATCH --option', with a space after #SBATCH", line=number)
            if commands_started:
                script.ignored.append((number, stripped))
                continue
            try:
                tokens = shlex.split(body, comments=True)
            except ValueError as exc:
                raise ManifestError(f"line {number}: cannot read the directive ({exc})", line=number) from None
            while tokens:
                name, value = _split_option(tokens.pop(0), tokens, number)
                script.directives[name] = value
                script.directive_lines[name] = number
            continue
        if not stripped or stripped.startswith("#"):
            continue
        commands_started = True
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError as exc:
            raise ManifestError(f"line {number}: cannot read the command ({exc})", line=number) from None
        while words and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]) or words[0] in ("exec", "time")):
            words.pop(0)
        if words and words[0] == "srun":
            script.srun_lines.append((number, words[1:]))
    return script


def _int_option(script: SbatchScript, name: str) -> int | None:
    value = script.get(name)
    if value is None:
        return None
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", value)
    if not match or (match[2] and match[2] != match[1]):
        raise ManifestError(f"line {script.directive_lines[name]}: --{name}={value} should be one whole number",
                            line=script.directive_lines[name])
    return int(match[1])


def _gpus_per_node(script: SbatchScript) -> tuple[int | None, str | None]:
    found = []
    gres = script.get("gres")
    if gres is not None:
        for item in gres.split(","):
            parts = item.split(":")
            if parts[0] != "gpu":
                if "gpu" in parts[0].lower():
                    raise ManifestError(f"line {script.directive_lines['gres']}: the GRES name is 'gpu' "
                                        f"(as in --gres=gpu:8), not {parts[0]!r}", line=script.directive_lines["gres"])
                continue
            count = parts[-1] if len(parts) > 1 else "1"
            if not count.isdigit():
                raise ManifestError(f"line {script.directive_lines['gres']}: --gres={gres} needs a GPU count at the "
                                    "end, like gpu:8 or gpu:h100:8", line=script.directive_lines["gres"])
            found.append((int(count), "gres"))
    gpn = script.get("gpus-per-node")
    if gpn is not None:
        count = gpn.split(":")[-1]
        if not count.isdigit():
            raise ManifestError(f"line {script.directive_lines['gpus-per-node']}: --gpus-per-node={gpn} needs a count",
                                line=script.directive_lines["gpus-per-node"])
        found.append((int(count), "gpus-per-node"))
    if len({c for c, _ in found}) > 1:
        raise ManifestError("--gres and --gpus-per-node ask for different GPU counts")
    return (found[0][0], found[0][1]) if found else (None, None)


def check_sbatch(text: Any, nodes: int | None = 4, gpus_per_node: int | None = 8,
                 one_task_per_gpu: bool = True) -> dict:
    """Check an sbatch script for a multi-node GPU job; return a summary or raise ManifestError.

    Returns ``{"nodes", "gpus_per_node", "gpu_option", "ntasks_per_node", "total_gpus",
    "total_tasks", "partition", "srun_args"}``.
    """
    script = parse_sbatch(text)
    if script.ignored:
        number, line = script.ignored[0]
        raise ManifestError(f"line {number}: {line!r} comes after the first command; sbatch stops reading "
                            "#SBATCH directives at the first command, so it would be ignored", line=number)
    got_nodes = _int_option(script, "nodes")
    if got_nodes is None:
        raise ManifestError("no #SBATCH --nodes directive: say how many nodes the job needs")
    per_node, option = _gpus_per_node(script)
    if per_node is None:
        if script.get("gpus") is not None:
            raise ManifestError("--gpus gives a total for the job, which Slurm may spread unevenly; ask per node "
                                "with --gres=gpu:N or --gpus-per-node=N", line=script.directive_lines["gpus"])
        raise ManifestError("no GPU request: add #SBATCH --gres=gpu:N or #SBATCH --gpus-per-node=N")
    tasks = _int_option(script, "ntasks-per-node")
    if nodes is not None and got_nodes != nodes:
        raise ManifestError(f"line {script.directive_lines['nodes']}: --nodes is {got_nodes}; this job needs {nodes}",
                            line=script.directive_lines["nodes"])
    if gpus_per_node is not None and per_node != gpus_per_node:
        line = script.directive_lines.get(option)
        raise ManifestError(f"line {line}: the script asks for {per_node} GPUs a node; this job needs {gpus_per_node}",
                            line=line)
    if one_task_per_gpu:
        if tasks is None:
            raise ManifestError("no #SBATCH --ntasks-per-node: for one process per GPU, set it to the GPUs per node")
        if tasks != per_node:
            raise ManifestError(f"line {script.directive_lines['ntasks-per-node']}: --ntasks-per-node={tasks} but "
                                f"{per_node} GPUs a node; one task per GPU needs them equal",
                                line=script.directive_lines["ntasks-per-node"])
    if not script.srun_lines:
        raise ManifestError("no srun line: without srun the program runs once, on the first node only")
    srun_line, srun_args = script.srun_lines[-1]
    for token in srun_args:
        m = re.fullmatch(r"--(nodes|ntasks-per-node)=(\d+)", token)
        if m and int(m[2]) != {"nodes": got_nodes, "ntasks-per-node": tasks}[m[1]]:
            raise ManifestError(f"line {srun_line}: srun --{m[1]}={m[2]} disagrees with the #SBATCH allocation",
                                line=srun_line)
    return {"nodes": got_nodes, "gpus_per_node": per_node, "gpu_option": option, "ntasks_per_node": tasks,
            "total_gpus": got_nodes * per_node, "total_tasks": got_nodes * tasks if tasks else None,
            "partition": script.get("partition"), "srun_args": srun_args}


# --------------------------------------------------------------------------- graded-notebook helpers

def form_manifest(question: str, text: Any, kinds: tuple[str, ...] | str) -> None:
    """Visible check: the text parses as one YAML document whose kind is one of ``kinds``."""
    if text is Ellipsis or text is None:
        raise ck.NotAnswered(question, "not answered yet: replace the ... with your YAML text and run the cell")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    try:
        obj = parse(text)
        _kind(obj)
    except ManifestError as exc:
        raise ck.WrongForm(question, str(exc)) from None
    if obj["kind"] not in kinds:
        raise ck.WrongForm(question, f"expected kind {' or '.join(kinds)}, got {obj['kind']!r}")


def form_sbatch(question: str, text: Any) -> None:
    """Visible check: the text reads as a batch script (interpreter line, well-formed directives)."""
    if text is Ellipsis or text is None:
        raise ck.NotAnswered(question, "not answered yet: replace the ... with your script text and run the cell")
    try:
        parse_sbatch(text)
    except ManifestError as exc:
        raise ck.WrongForm(question, str(exc)) from None


def _grade(question: str, text: Any, func, **kwargs) -> dict:
    if text is Ellipsis or text is None:
        raise ck.NotAnswered(question, "not answered yet: replace the ... with your text and run the cell")
    try:
        return func(text, **kwargs)
    except ManifestError as exc:
        raise ck.WrongAnswer(question, str(exc)) from None


def grade_gpu_workload(question: str, text: Any, **kwargs) -> dict:
    """Hidden check: :func:`check_gpu_workload`, reported as a one-line answer error."""
    return _grade(question, text, check_gpu_workload, **kwargs)


def grade_clusterqueue(question: str, text: Any, **kwargs) -> dict:
    """Hidden check: :func:`check_clusterqueue`, reported as a one-line answer error."""
    return _grade(question, text, check_clusterqueue, **kwargs)


def grade_sbatch(question: str, text: Any, **kwargs) -> dict:
    """Hidden check: :func:`check_sbatch`, reported as a one-line answer error."""
    return _grade(question, text, check_sbatch, **kwargs)
