"""Parse and check Kubernetes manifests and Slurm batch scripts: the one place for this in the course.

Three layers, each with its own clear error message:

1. **Syntax.** :func:`parse` and :func:`parse_all` read YAML with a *bounded* safe loader
   (:func:`load_yaml`): at most :data:`MAX_YAML_CHARS` characters, and anchors and aliases
   may not expand past :data:`MAX_YAML_NODES` nodes or refer to themselves, so a "billion
   laughs" text is refused at once instead of eating the kernel. A syntax error becomes a
   :class:`ManifestError` that names the line and column.
2. **Schema.** :func:`validate` checks a built-in kind (Pod, Job, PriorityClass, ResourceQuota,
   ResourceClaimTemplate...) against the real Kubernetes OpenAPI schema, offline, from the JSON
   Schemas that the ``kubernetes-validate`` package bundles (Kubernetes 1.25 to 1.37; we use
   :data:`K8S_VERSION` in *strict* mode, so an unknown field such as a misspelt ``toleration:``
   is an error). Each schema file is read once, the first time its kind is validated, and its
   validator is kept. Custom resources have no schema there, so Kueue, Kubeflow (``PyTorchJob``,
   ``TrainJob``), JobSet, LeaderWorkerSet and Multus objects are checked with JSON Schemas written
   for this course from their API types (``infraprep/data/04-kubernetes/*.schema.json``); the pod
   and job templates inside them point at the real Kubernetes definitions, so a typo inside a
   PyTorchJob's container is caught like one in a Pod. Kueue's ``kueue.x-k8s.io/v1beta1`` is
   accepted but reported as deprecated (:func:`deprecation`): v1beta2 is current since Kueue 0.15.
3. **Meaning.** :func:`check_gpu_workload`, :func:`check_clusterqueue`, :func:`check_sbatch`
   and :func:`agreement` look field by field: the GPU resource name (``nvidia.com/gpu``), whole
   counts, requests equal to limits, one GPU container per pod, a toleration that matches the GPU
   pool's taint (Kubernetes' own matching rule, :func:`tolerates`), the pod's QoS class
   (:func:`qos_class`), a PyTorchJob whose ``nprocPerNode`` is served by ``torchrun``, Kueue
   quotas and preemption, and for Slurm the ``#SBATCH`` directives and what the ``srun`` line
   really starts (tasks times processes a task, also inside ``bash -c '...'``).

Graded notebooks call the ``form_*`` functions in visible tests (the text parses and is the right
kind) and the ``grade_*`` functions in hidden tests; both turn a :class:`ManifestError` into an
:mod:`infraprep.checking` error, so the learner sees one line that explains what is wrong.

Sources: Kubernetes docs (device plugins, Schedule GPUs, taints and tolerations, Pod QoS classes,
Topology Manager), the Kueue, Kubeflow Trainer, JobSet and LeaderWorkerSet API types, sbatch(1)
and srun(1); see the lesson's ``references.csv``.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import checking as ck

__all__ = [
    "K8S_VERSION", "GPU_RESOURCE", "MAX_YAML_CHARS", "MAX_YAML_NODES", "ManifestError", "Taint", "GPU_TAINT",
    "load_yaml", "parse", "parse_all", "validate", "validate_k8s", "validate_crd", "crd_schema", "crd_kinds",
    "deprecation", "tolerates", "pod_templates", "gpu_count", "total_gpus", "qos_class", "parse_quantity",
    "shm_needed_bytes", "bundled_versions", "effective_requests", "grade_manifest", "check_preemptible_job", "grade_preemptible_job",
    "check_gpu_workload", "check_clusterqueue", "agreement", "SbatchScript", "parse_sbatch", "srun_command",
    "check_sbatch", "form_manifest", "form_sbatch", "grade_gpu_workload", "grade_clusterqueue", "grade_sbatch",
]

#: Kubernetes version whose schemas we validate against (bundled by kubernetes-validate 1.37.0).
K8S_VERSION = "1.37"
#: The extended resource the NVIDIA device plugin advertises: whole GPUs.
GPU_RESOURCE = "nvidia.com/gpu"
#: Largest YAML text read (characters). A manifest answer is a few thousand.
MAX_YAML_CHARS = 100_000
#: Largest YAML document after anchors and aliases are expanded (nodes).
MAX_YAML_NODES = 20_000

LESSON = "04-kubernetes"
#: Course schema files, one an API group (read lazily, once).
CRD_FILES = ("kueue.schema.json", "kubeflow.schema.json", "jobset.schema.json", "lws.schema.json",
             "multus.schema.json")
CRD_GROUPS = {"kueue.x-k8s.io": "Kueue", "config.kueue.x-k8s.io": "Kueue", "kubeflow.org": "Kubeflow",
              "trainer.kubeflow.org": "Kubeflow Trainer", "jobset.x-k8s.io": "JobSet",
              "leaderworkerset.x-k8s.io": "LeaderWorkerSet", "k8s.cni.cncf.io": "Multus",
              "scheduling.volcano.sh": "Volcano", "batch.volcano.sh": "Volcano", "argoproj.io": "Argo",
              "autoscaling.x-k8s.io": "Cluster Autoscaler", "mellanox.com": "NVIDIA Network Operator",
              "nvidia.com": "NVIDIA"}
#: Deprecated API versions the checker still reads, with what to use instead.
DEPRECATED = {
    "kueue.x-k8s.io/v1beta1": ("kueue.x-k8s.io/v1beta2", "Kueue serves v1beta2 since 0.15, stores it since 0.16 and "
                               "plans to stop serving v1beta1 in 0.20"),
    "kubeflow.org/v1": ("trainer.kubeflow.org/v1alpha1 TrainJob", "the Kubeflow Training Operator v1 is legacy: "
                        "Kubeflow Trainer v2 (TrainJob on JobSet) replaces it"),
}


class ManifestError(ValueError):
    """A manifest or batch script is wrong. ``line`` (1-based) and ``path`` locate it when known."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None):
        self.line = line
        self.path = path
        super().__init__(message)


# --------------------------------------------------------------------------- syntax (bounded YAML)

def _text(text: Any, what: str) -> str:
    if text is Ellipsis or text is None:
        raise ManifestError(f"the {what} is empty: write it as a text string")
    if type(text) is not str:
        raise ManifestError(f"the {what} should be text (a string in triple quotes), got {type(text).__name__}")
    if not text.strip():
        raise ManifestError(f"the {what} is empty: write it as a text string")
    if len(text) > MAX_YAML_CHARS:
        raise ManifestError(f"the {what} is {len(text):,} characters long; the checker reads at most "
                            f"{MAX_YAML_CHARS:,} (a manifest is a few thousand)")
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


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in ``root`` once every alias is expanded; ManifestError past ``limit`` or on a cycle.

    Shared nodes (what an alias points at) are counted once for each place they appear, but each
    is visited once (memoised), so a text whose aliases double at every level is measured in
    microseconds, and a node that contains itself is found without recursing.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            else:
                children = []
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > limit:
                raise ManifestError(f"the YAML's anchors and aliases expand to more than {limit:,} values; "
                                    "write the manifest out without aliases (refused to protect the kernel)")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in active:
            raise ManifestError("the YAML has an alias inside its own anchor (a structure that contains "
                                "itself); a manifest cannot be infinite")
        active.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((c, False) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, False) for pair in node.value for part in pair)
    return sizes[id(root)]


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that measures each document's expanded size before building it."""

    def construct_document(self, node):
        _expanded_size(node, MAX_YAML_NODES)
        return super().construct_document(node)


def _load_documents(source: str) -> list[Any]:
    loader = _BoundedLoader(source)
    try:
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
        return documents
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except RecursionError:
        raise ManifestError("the YAML is nested too deeply to be a manifest") from None
    finally:
        loader.dispose()


def load_yaml(text: Any, what: str = "YAML") -> Any:
    """One YAML value (any type) read with the bounded safe loader; ManifestError on bad or hostile input."""
    documents = _load_documents(_text(text, what))
    if len(documents) != 1:
        raise ManifestError(f"expected one YAML document, found {len(documents)} (separated by ---)")
    return documents[0]


def parse_all(text: Any, what: str = "manifest") -> list[dict]:
    """Every non-empty YAML document in ``text``, each a mapping; ManifestError names the line on a syntax error."""
    documents = [doc for doc in _load_documents(_text(text, what)) if doc is not None]
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


def _group(api: str) -> str:
    return api.split("/", 1)[0] if "/" in api else ""


# --------------------------------------------------------------------------- schema

#: Optional modules jsonschema imports only to check string formats (iri, duration, hostname...),
#: which no Kubernetes or course schema needs and which are not checked here.
_FORMAT_MODULES = ("rfc3987_syntax", "rfc3987", "rfc3986_validator", "rfc3339_validator", "isoduration", "fqdn",
                   "webcolors", "uri_template", "jsonpointer")


def _jsonschema():
    """``jsonschema``, imported without its optional format-checking helpers.

    Importing jsonschema builds the Earley parsers of ``rfc3987_syntax`` (about 1 s of CPU,
    python-jsonschema/jsonschema#1428) and loads ``isoduration`` (with ``arrow``) and other helpers
    for string formats that no Kubernetes or course schema uses, and that validation here does not
    check (no format checker is passed). If jsonschema is not loaded yet, the import runs with those
    optional modules hidden, as on an install without them; the placeholders are removed afterwards,
    so anything that imports one of them itself later still gets it.
    """
    if "jsonschema" in sys.modules:
        return sys.modules["jsonschema"]
    hidden = [name for name in _FORMAT_MODULES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # an import of it raises ImportError, which jsonschema expects
    try:
        import jsonschema
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return jsonschema


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@lru_cache(maxsize=1)
def _schema_root() -> Path:
    """The folder of JSON Schemas bundled by kubernetes-validate (found without importing the package)."""
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError("the kubernetes-validate package is not installed (pip install kubernetes-validate)")
    return Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text))


@lru_cache(maxsize=None)
def bundled_versions() -> tuple[str, ...]:
    """Kubernetes versions (``"1.25"`` ... ``"1.37"``) whose strict schemas are bundled, oldest first."""
    found = {m[1] for p in _schema_root().iterdir() if (m := re.fullmatch(r"v(\d+\.\d+)\.\d+-local-strict", p.name))}
    return tuple(sorted(found, key=_version_key))


@lru_cache(maxsize=None)
def _schema_dir(version: str) -> tuple[str, Path]:
    wanted = _version_key(version.lstrip("v"))[:2]
    usable = [v for v in bundled_versions() if _version_key(v) <= wanted]
    if not usable:
        raise ManifestError(f"no bundled Kubernetes schemas for version {version} (have "
                            f"{', '.join(bundled_versions())})")
    chosen = usable[-1]
    return chosen, _schema_root() / f"v{chosen}.0-local-strict"


@lru_cache(maxsize=None)
def _registry(version: str):
    """A ``referencing`` registry with the Kubernetes definitions of ``version`` and the course schemas."""
    from referencing import Registry, Resource

    _jsonschema()
    _chosen, folder = _schema_dir(version)
    definitions = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))
    resources = [Resource.from_contents(definitions)]
    resources += [Resource.from_contents(doc) for doc in _crd_documents().values()]
    return Registry().with_resources((r.id(), r) for r in resources)


@lru_cache(maxsize=None)
def _k8s_validator(version: str, filename: str):
    """The validator for one top-level Kubernetes schema file, or None if this version has no such kind."""
    from referencing import Resource

    jsonschema = _jsonschema()
    _chosen, folder = _schema_dir(version)
    path = folder / filename
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    resource = Resource.from_contents(schema)
    registry = _registry(version).with_resource(resource.id(), resource)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _best_error(validator, obj):
    jsonschema = _jsonschema()
    return jsonschema.exceptions.best_match(validator.iter_errors(obj))


def validate_k8s(obj: dict, version: str = K8S_VERSION, strict: bool = True) -> str:
    """Validate a built-in kind against the Kubernetes schema; return the version used (``"1.37"``).

    ``strict`` is kept for callers of the earlier API; the strict schemas (unknown fields are
    errors) are always used.
    """
    api, kind = _kind(obj)
    chosen, _folder = _schema_dir(version)
    api_part = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api)
    validator = _k8s_validator(version, f"{kind.lower()}-{api_part}.json")
    if validator is None:
        raise ManifestError(f"Kubernetes {chosen} has no kind {kind!r} in apiVersion {api!r}: "
                            "check the spelling of kind and apiVersion", path="kind")
    error = _best_error(validator, obj)
    if error is not None:
        where = _path(error.absolute_path)
        raise ManifestError(f"schema error at {where}: {error.message}", path=where)
    return chosen


@lru_cache(maxsize=None)
def _crd_documents() -> dict[str, dict]:
    """The course's schema documents by file name (each read once)."""
    folder = Path(__file__).resolve().parent / "data" / LESSON  # what tables.artefact_path reads, without pandas
    return {name: json.loads((folder / name).read_text(encoding="utf-8")) for name in CRD_FILES}


@lru_cache(maxsize=None)
def _crd_index() -> dict[tuple[str, str], tuple[str, str]]:
    """(apiVersion, kind) -> (schema document $id, definition name)."""
    index = {}
    for doc in _crd_documents().values():
        for api, kinds in doc["x-kinds"].items():
            for kind, definition in kinds.items():
                index[(api, kind)] = (doc["$id"], definition)
    return index


def _api_rank(api: str) -> tuple[int, int, int]:
    """Order API versions: v1alpha1 < v1alpha2 < v1beta1 < v1beta2 < v1 < v2."""
    m = re.search(r"v(\d+)(?:(alpha|beta)(\d+))?$", api)
    if not m:
        return (0, 0, 0)
    stage = {"alpha": 0, "beta": 1, None: 2}[m[2]]
    return (int(m[1]), stage, int(m[3] or 0))


def crd_kinds() -> list[tuple[str, str]]:
    """Every (apiVersion, kind) the course has a schema for, sorted."""
    return sorted(_crd_index())


def crd_schema(kind: str, api_version: str | None = None) -> dict:
    """A self-contained JSON Schema for a custom resource kind (newest version unless ``api_version``).

    Its ``$defs`` are the course document's; references to Kubernetes definitions stay as URLs
    (resolved by :func:`validate_crd` from the bundled Kubernetes schemas).
    """
    matches = [(api, k) for api, k in crd_kinds() if k == kind and (api_version is None or api == api_version)]
    if not matches:
        known = ", ".join(sorted({k for _a, k in crd_kinds()}))
        raise KeyError(f"no course schema for kind {kind!r}" + (f" in {api_version}" if api_version else "")
                       + f"; known kinds: {known}")
    api, _kind_name = max(matches, key=lambda m: _api_rank(m[0]))
    doc_id, definition = _crd_index()[(api, kind)]
    doc = next(d for d in _crd_documents().values() if d["$id"] == doc_id)
    out = {key: value for key, value in doc.items() if key in ("$schema", "$defs")}
    out["$id"] = f"{doc_id}/{api}/{kind}"
    return {**doc["$defs"][definition], **out}


@lru_cache(maxsize=None)
def _crd_validator(version: str, api: str, kind: str):
    jsonschema = _jsonschema()
    doc_id, definition = _crd_index()[(api, kind)]
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{doc_id}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def deprecation(obj: dict) -> str | None:
    """Why ``obj``'s apiVersion is deprecated (and what to use), or None if it is current."""
    api, _kind_name = _kind(obj)
    if api in DEPRECATED:
        new, why = DEPRECATED[api]
        return f"{api} is deprecated: {why}; use {new}"
    return None


def _crd_message(error) -> str:
    message = error.message
    schema_path = [str(p) for p in error.absolute_schema_path]
    if "propertyNames" in schema_path and "pytorchReplicaSpecs" in [str(p) for p in error.absolute_path] + [""]:
        message = f"{error.instance!r} is not a replica type; PyTorchJob uses Master and Worker"
    elif "propertyNames" in schema_path:
        message = f"{error.instance!r} is not allowed here"
    return message


def validate_crd(obj: dict, version: str = K8S_VERSION) -> None:
    """Validate a custom resource against the course's JSON Schema (nested templates against Kubernetes')."""
    api, kind = _kind(obj)
    if (api, kind) not in _crd_index():
        raise ManifestError(f"no schema for custom resource {kind!r} in {api!r}")
    raw_spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if kind == "ClusterQueue":
        right, wrong = ("cohort", "cohortName") if api.endswith("v1beta1") else ("cohortName", "cohort")
        if wrong in raw_spec:
            raise ManifestError(f"schema error at spec: Kueue {api.rsplit('/', 1)[-1]} names the cohort field "
                                f"{right!r}, not {wrong!r} (v1beta2 renamed cohort to cohortName); use the one that "
                                "matches apiVersion", path="spec")
    error = _best_error(_crd_validator(version, api, kind), obj)
    if error is not None:
        where = _path(error.absolute_path)
        raise ManifestError(f"schema error at {where}: {_crd_message(error)}", path=where)
    spec = obj.get("spec") or {}
    if kind == "NetworkAttachmentDefinition" and "config" in spec:
        try:
            config = json.loads(spec["config"])
        except ValueError as exc:
            raise ManifestError(f"spec.config is not valid JSON ({exc}); it holds the CNI configuration",
                                path="spec.config") from None
        if not isinstance(config, dict) or "cniVersion" not in config or not ("type" in config or "plugins" in config):
            raise ManifestError("spec.config should be a CNI configuration with cniVersion and a type (or plugins)",
                                path="spec.config")
    if kind == "ClusterQueue":
        for g, group in enumerate(spec.get("resourceGroups", [])):
            covered = list(group["coveredResources"])
            for f, flavor in enumerate(group["flavors"]):
                names = [r["name"] for r in flavor["resources"]]
                if names != covered:
                    raise ManifestError(
                        f"schema error at spec.resourceGroups[{g}].flavors[{f}].resources: Kueue requires each flavor "
                        f"to list the covered resources {covered} in the same order; it lists {names}",
                        path=f"spec.resourceGroups[{g}].flavors[{f}].resources")
        cohort_field = "cohort" if api.endswith("v1beta1") else "cohortName"
        if not spec.get(cohort_field):
            for group in spec.get("resourceGroups", []):
                for flavor in group["flavors"]:
                    for res in flavor["resources"]:
                        for limit in ("borrowingLimit", "lendingLimit"):
                            if limit in res:
                                raise ManifestError(
                                    f"schema error at spec: {limit} is set for {res['name']!r} but the ClusterQueue "
                                    f"joins no cohort (spec.{cohort_field}); Kueue rejects a limit with nothing to "
                                    "borrow from or lend to", path="spec")


def validate(obj: dict, version: str = K8S_VERSION) -> str:
    """Validate any supported object; return ``"kubernetes <version>"`` or ``"course schema"``.

    A deprecated API version that still validates returns ``"course schema (deprecated: ...)"``.
    """
    api, kind = _kind(obj)
    if (api, kind) in _crd_index():
        validate_crd(obj, version)
        note = deprecation(obj)
        return f"course schema (deprecated: {note})" if note else "course schema"
    group = _group(api)
    if group in CRD_GROUPS or any(group.endswith("." + g) for g in CRD_GROUPS):
        known = sorted({k for _a, k in crd_kinds()})
        raise ManifestError(f"{kind} in {api} is a custom resource ({CRD_GROUPS.get(group, group)}); the course has "
                            f"schemas for {', '.join(known)}, so it cannot be validated here", path="kind")
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


def _int(value: Any, default: int, where: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestError(f"{where} should be a whole number, got {value!r}", path=where)
    return value


def _trainjob_tolerations(spec: dict) -> list:
    found = []
    for patch in spec.get("runtimePatches") or []:
        jobset = ((patch.get("trainingRuntimeSpec") or {}).get("template") or {}).get("spec") or {}
        for rj in jobset.get("replicatedJobs") or []:
            pod = (((rj.get("template") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
            found.extend(pod.get("tolerations") or [])
    return found


def pod_templates(obj: dict) -> list[tuple[str, dict, int]]:
    """``(label, pod template, pods)`` for every group of identical pods the object makes.

    Understands Pod (1), Deployment/StatefulSet/ReplicaSet (``replicas``, default 1), Job
    (``parallelism``, default 1: the pods that run at once), PyTorchJob (each replica type's
    ``replicas``), TrainJob (``numNodes`` pods of ``resourcesPerNode``; the runtime provides the
    rest of the template), JobSet (``replicas`` Jobs of each replicated job) and LeaderWorkerSet
    (``replicas`` groups of ``size`` pods: one leader and ``size - 1`` workers).
    """
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
                out.append((label, replica.get("template") or {},
                            _int(replica.get("replicas"), 1, f"spec.pytorchReplicaSpecs.{label}.replicas")))
        if not out:
            raise ManifestError("the PyTorchJob has no Master or Worker in spec.pytorchReplicaSpecs",
                                path="spec.pytorchReplicaSpecs")
        return out
    if kind == "TrainJob":
        trainer = spec.get("trainer") or {}
        container = {"name": "node", "resources": trainer.get("resourcesPerNode") or {}}
        if trainer.get("command"):
            container["command"] = trainer["command"]
        template = {"spec": {"containers": [container], "tolerations": _trainjob_tolerations(spec)}}
        return [("trainer", template, _int(trainer.get("numNodes"), 1, "spec.trainer.numNodes"))]
    if kind == "JobSet":
        out = []
        for i, rj in enumerate(spec.get("replicatedJobs") or []):
            job_spec = ((rj.get("template") or {}).get("spec")) or {}
            per_job = _int(job_spec.get("parallelism"), 1, f"spec.replicatedJobs[{i}].template.spec.parallelism")
            out.append((rj.get("name", f"replicatedJobs[{i}]"), job_spec.get("template") or {},
                        _int(rj.get("replicas"), 1, f"spec.replicatedJobs[{i}].replicas") * per_job))
        if not out:
            raise ManifestError("the JobSet has no spec.replicatedJobs", path="spec.replicatedJobs")
        return out
    if kind == "LeaderWorkerSet":
        lwt = spec.get("leaderWorkerTemplate") or {}
        groups = _int(spec.get("replicas"), 1, "spec.replicas")
        size = _int(lwt.get("size"), 1, "spec.leaderWorkerTemplate.size")
        worker = lwt.get("workerTemplate") or {}
        leader = lwt.get("leaderTemplate") or worker
        out = [("leader", leader, groups)]
        if size > 1:
            out.append(("worker", worker, groups * (size - 1)))
        return out
    template = spec.get("template")
    if isinstance(template, dict):
        count_key = "parallelism" if kind in ("Job",) else "replicas"
        return [(kind, template, _int(spec.get(count_key), 1, f"spec.{count_key}"))]
    raise ManifestError(f"a {kind} has no pod template this checker understands", path="spec")


def _near_gpu_name(name: str) -> bool:
    lowered = name.lower()
    if name == GPU_RESOURCE or lowered.startswith("nvidia.com/mig-") or lowered in ("nvidia.com/gpu.shared",):
        return False
    return "gpu" in lowered or lowered in ("nvidia.com/gpus", "nvidia/gpu")


def gpu_count(container: dict, where: str, resources_at: str | None = None) -> int:
    """GPUs a container asks for, after checking name, whole numbers and requests == limits.

    ``where`` names the container in messages; ``resources_at`` the path of its resources
    (default ``<where>.resources``).
    """
    at = resources_at or f"{where}.resources"
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        for name in values:
            if _near_gpu_name(str(name)):
                raise ManifestError(
                    f"{at}.{section} asks for {name!r}: the NVIDIA device plugin advertises GPUs as "
                    f"{GPU_RESOURCE!r} (exactly that name), so no node offers {name!r} and the pod would stay Pending",
                    path=f"{at}.{section}")
    if GPU_RESOURCE in requests and GPU_RESOURCE not in limits:
        raise ManifestError(f"{where} sets {GPU_RESOURCE} in requests but not in limits; extended resources "
                            "must be set in limits (requests may be left out: they default to the limit)",
                            path=f"{at}.limits")
    if GPU_RESOURCE not in limits:
        return 0
    counts = {}
    for section, values in (("limits", limits), ("requests", requests)):
        if GPU_RESOURCE in values:
            try:
                quantity = parse_quantity(values[GPU_RESOURCE])
            except ValueError:
                raise ManifestError(f"{at}.{section}.{GPU_RESOURCE} is {values[GPU_RESOURCE]!r}, "
                                    "not a number", path=f"{at}.{section}") from None
            if quantity.denominator != 1 or quantity < 0:
                raise ManifestError(f"{at}.{section}.{GPU_RESOURCE} must be a whole number of GPUs "
                                    "(the device plugin hands out whole devices)", path=f"{at}.{section}")
            counts[section] = int(quantity)
    if "requests" in counts and counts["requests"] != counts["limits"]:
        raise ManifestError(f"{where}: {GPU_RESOURCE} requests ({counts['requests']}) and limits ({counts['limits']}) "
                            "differ; extended resources cannot be overcommitted, so they must be equal",
                            path=at)
    return counts["limits"]


def _pod_gpus(pod_spec: dict) -> int:
    """GPUs one pod holds: the app containers' sum, or an init container's if larger (it runs alone first)."""
    def one(container):
        res = (container or {}).get("resources") or {}
        value = (res.get("limits") or {}).get(GPU_RESOURCE, (res.get("requests") or {}).get(GPU_RESOURCE, 0))
        return parse_quantity(value)

    apps = sum((one(c) for c in pod_spec.get("containers") or []), Fraction(0))
    inits = max((one(c) for c in pod_spec.get("initContainers") or []), default=Fraction(0))
    return int(max(apps, inits))


def total_gpus(text: Any) -> int:
    """GPUs (``nvidia.com/gpu``) that every pod of every document in ``text`` holds when all run at once.

    A pod's GPUs are its containers' limits (requests when no limit is written); documents without
    pods (Service, ConfigMap, quotas...) count 0. Pod counts follow :func:`pod_templates`.
    """
    total = 0
    for obj in parse_all(text):
        _kind(obj)
        try:
            groups = pod_templates(obj)
        except ManifestError as exc:
            if "no pod template" in str(exc) or "has no spec" in str(exc):
                continue
            raise
        for _label, template, pods in groups:
            total += pods * _pod_gpus((template or {}).get("spec") or {})
    return total


_QOS_RESOURCES = ("cpu", "memory")


def qos_class(pod: dict) -> str:
    """The QoS class Kubernetes gives a pod: ``"Guaranteed"``, ``"Burstable"`` or ``"BestEffort"``.

    Only CPU and memory count (GPUs and other extended resources do not), over the app and init
    containers. A request left out defaults to the limit. Guaranteed: every container has CPU and
    memory limits, and requests equal to them. BestEffort: no container has any CPU or memory
    request or limit. Everything else is Burstable. (Pod-level ``spec.resources`` are not
    covered.) ``pod`` is a Pod manifest (dict) or its ``spec``.
    """
    spec = pod.get("spec", pod) if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        raise ManifestError("give a Pod (a mapping) or its spec")
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    if not containers:
        raise ManifestError("the pod has no containers")
    any_set, guaranteed = False, True
    for c in containers:
        res = (c or {}).get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        for name in _QOS_RESOURCES:
            limit = parse_quantity(limits[name]) if name in limits else None
            request = parse_quantity(requests[name]) if name in requests else limit  # defaults to the limit
            limit = limit or None  # a zero quantity counts as not set
            request = request or None
            if limit is not None or request is not None:
                any_set = True
            if limit is None or request != limit:
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"


_LAUNCHERS = ("torchrun",)


def _launcher_procs(words: list[str]) -> int | None:
    """Processes a launcher command starts (torchrun / python -m torch.distributed.run), else None."""
    if not words:
        return None
    name = Path(words[0]).name
    args = words[1:]
    if re.fullmatch(r"python[\d.]*", name) and len(args) >= 2 and args[0] == "-m" and \
            args[1] in ("torch.distributed.run", "torch.distributed.launch"):
        args = args[2:]
    elif name not in _LAUNCHERS:
        return None
    for i, arg in enumerate(args):
        m = re.fullmatch(r"--nproc[-_]per[-_]node(?:=(.*))?", arg)
        if m:
            value = m[1] if m[1] is not None else (args[i + 1] if i + 1 < len(args) else "")
            return int(value) if value.isdigit() else -1  # auto / gpu / $(VAR): decided at run time
        if not arg.startswith("-"):
            break
    return 1


_SHELL_BUILTINS = ("cd", "export", "source", ".", "set", "echo", "ulimit", "module", "true", "mkdir", "nvidia-smi")


def _first_program(script: str) -> list[str]:
    """Words of the first program a ``bash -c`` script runs (after cd, export, assignments, exec...)."""
    for part in re.split(r"\s*(?:;|&&|\|\||\n)\s*", script):
        try:
            cmd = _words(part)
        except ValueError:
            continue
        while cmd and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", cmd[0]) or cmd[0] == "exec"):
            cmd.pop(0)
        if cmd and cmd[0] not in _SHELL_BUILTINS:
            return cmd
    return []


def _unwrap_shell(words: list[str]) -> list[str]:
    """``bash -c '<script>'`` (or ``sh -c``) -> the program the script runs; anything else unchanged."""
    if len(words) >= 3 and Path(words[0]).name in ("bash", "sh") and words[1] in ("-c", "-lc", "-ec", "-xc", "-exc"):
        return _first_program(words[2])
    return words


def _container_command(container: dict) -> list[str]:
    words = [str(w) for w in (container.get("command") or [])] + [str(w) for w in (container.get("args") or [])]
    return _unwrap_shell(words)


def shm_needed_bytes(processes: int, workers: int, batch_bytes: float, prefetch_factor: int = 2) -> float:
    """Shared memory the DataLoaders of one pod can hold at once, in bytes.

    Each training process runs ``workers`` DataLoader workers; each worker keeps up to
    ``prefetch_factor`` finished batches (PyTorch's default 2) in shared memory until the main
    process takes them, so at most processes x workers x prefetch_factor x batch_bytes sit in
    ``/dev/shm`` at once. Size the pod's memory-backed ``/dev/shm`` above that.
    """
    for name, value in (("processes", processes), ("workers", workers), ("prefetch_factor", prefetch_factor)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if batch_bytes < 0:
        raise ValueError("batch_bytes must be >= 0")
    return float(processes * workers * prefetch_factor * batch_bytes)


def _shm_limit(pod_spec: dict, container: dict) -> Fraction | None:
    """Size of the memory-backed volume mounted at /dev/shm (None if none; 0 if unbounded)."""
    volumes = {v.get("name"): v for v in pod_spec.get("volumes") or [] if isinstance(v, dict)}
    for mount in container.get("volumeMounts") or []:
        if (mount or {}).get("mountPath") == "/dev/shm":
            empty = (volumes.get(mount.get("name")) or {}).get("emptyDir")
            if isinstance(empty, dict) and empty.get("medium") == "Memory":
                return parse_quantity(empty["sizeLimit"]) if "sizeLimit" in empty else Fraction(0)
    return None


def check_gpu_workload(text: Any, gpus_per_pod: int = 8, taint: Taint | str | None = GPU_TAINT,
                       kinds: tuple[str, ...] = ("Pod", "PyTorchJob", "TrainJob"), pods: int | None = None,
                       version: str = K8S_VERSION, gpu_containers: int | None = None, qos: str | None = None,
                       shm_bytes: int | None = None) -> dict:
    """Parse, validate and check a GPU workload; return a summary or raise ManifestError.

    Checks: right kind; schema; every pod asks for exactly ``gpus_per_pod`` ``nvidia.com/gpu``
    (requests equal to limits if both are set), optionally from exactly ``gpu_containers``
    containers; every pod tolerates ``taint``; a PyTorchJob with ``nprocPerNode`` above 1 runs
    ``torchrun`` (the operator sets WORLD_SIZE to replicas times nprocPerNode, so a plain
    ``python train.py`` starts too few processes and the rendezvous waits for ever); optionally
    the pod count, the QoS class (:func:`qos_class`) and a memory-backed ``/dev/shm`` of at least
    ``shm_bytes``. Returns ``{"kind", "name", "pods", "gpus_per_pod", "total_gpus", "tolerations",
    "qos", "deprecated"}``.
    """
    obj = parse(text)
    _api, kind = _kind(obj)
    if kind not in kinds:
        raise ManifestError(f"expected kind {' or '.join(kinds)}, got {kind!r}", path="kind")
    validate(obj, version)
    if isinstance(taint, str):
        taint = Taint.parse(taint)
    total_pods, per_pod, tolerations_seen, classes = 0, set(), [], set()
    spec = obj.get("spec") or {}
    nproc = spec.get("nprocPerNode") if kind == "PyTorchJob" else None
    for label, template, replicas in pod_templates(obj):
        pod_spec = template.get("spec") or {}
        base = {"Pod": "spec", "PyTorchJob": f"spec.pytorchReplicaSpecs.{label}.template.spec",
                "TrainJob": "spec.trainer"}.get(kind, "spec.template.spec")
        containers = pod_spec.get("containers") or []
        if kind == "TrainJob":
            counts = [gpu_count(c, "spec.trainer", "spec.trainer.resourcesPerNode") for c in containers]
        else:
            counts = [gpu_count(c, f"{base}.containers[{i}]") for i, c in enumerate(containers)]
        gpus = sum(counts)
        if gpus == 0:
            where = "spec.trainer.resourcesPerNode.limits" if kind == "TrainJob" else "resources.limits"
            raise ManifestError(f"{label}: no container asks for {GPU_RESOURCE} in {where}, so the pod gets no GPU",
                                path=f"{base}.containers")
        if gpu_containers is not None:
            holders = sum(1 for c in counts if c)
            if holders != gpu_containers:
                raise ManifestError(f"{label}: {holders} containers hold GPUs ({' + '.join(str(c) for c in counts if c)}); "
                                    f"this task wants {gpu_containers} container"
                                    f"{'s' if gpu_containers != 1 else ''} with all {gpus_per_pod}: a process "
                                    "sees only its own container's GPUs", path=f"{base}.containers")
        if gpus != gpus_per_pod:
            raise ManifestError(f"{label}: the pod asks for {gpus} GPUs in total; this task wants {gpus_per_pod} "
                                "per pod", path=f"{base}.containers")
        tolerations = pod_spec.get("tolerations") or []
        if taint is not None and not any(tolerates(t, taint) for t in tolerations):
            reason = ("it has no tolerations" if not tolerations
                      else "none of its tolerations matches (check key, operator/value and effect)")
            if kind == "TrainJob" and not tolerations:
                reason += " (a TrainJob sets them in runtimePatches, on the replicated job 'node')"
            raise ManifestError(f"{label}: the pod does not tolerate the GPU pool's taint {taint}, so the scheduler "
                                f"will not place it on those nodes; {reason}", path=f"{base}.tolerations")
        if nproc is not None and str(nproc).isdigit() and int(nproc) > 1:
            for i, c in enumerate(containers):
                words = _container_command(c)
                if counts[i] and words and _launcher_procs(words) is None:
                    started = " ".join(words)
                    total = sum(r for _l, _t, r in pod_templates(obj)) * int(nproc)
                    raise ManifestError(
                        f"{label}: nprocPerNode is {nproc}, so the operator sets WORLD_SIZE={total} and per-pod ranks, "
                        f"but the container runs '{started}', one process a pod: the rendezvous waits for ever for "
                        f"the missing ranks. Start it with torchrun (it reads PET_NPROC_PER_NODE, PET_NNODES and "
                        f"PET_NODE_RANK) so each pod runs {nproc} processes", path=f"{base}.containers[{i}].command")
        pod_qos = qos_class({"spec": pod_spec}) if kind != "TrainJob" else qos_class(
            {"spec": {"containers": containers}})
        if qos is not None and pod_qos != qos:
            raise ManifestError(f"{label}: the pod's QoS class is {pod_qos}; this task wants {qos} (every container "
                                "needs CPU and memory limits, with requests equal to them)", path=f"{base}.containers")
        if shm_bytes is not None:
            gpu_container = next((c for c, n in zip(containers, counts) if n), {})
            size = _shm_limit(pod_spec, gpu_container)
            if size is None:
                raise ManifestError(f"{label}: no memory-backed volume is mounted at /dev/shm, so the container keeps "
                                    "the runtime's 64 MB default; mount an emptyDir with medium: Memory there",
                                    path=f"{base}.volumes")
            if 0 < size < shm_bytes:
                raise ManifestError(f"{label}: /dev/shm is limited to {float(size) / 2**30:,.2f} GiB; this task needs "
                                    f"at least {shm_bytes / 2**30:,.2f} GiB", path=f"{base}.volumes")
        classes.add(pod_qos)
        total_pods += replicas
        per_pod.add(gpus)
        tolerations_seen.extend(tolerations)
    if pods is not None and total_pods != pods:
        raise ManifestError(f"the {kind} makes {total_pods} pods; this task wants {pods}")
    name = (obj.get("metadata") or {}).get("name")
    return {"kind": kind, "name": name, "pods": total_pods, "gpus_per_pod": per_pod.pop(),
            "total_gpus": total_pods * gpus_per_pod, "tolerations": tolerations_seen,
            "qos": classes.pop() if len(classes) == 1 else sorted(classes), "deprecated": deprecation(obj)}


def _failure_action(rules: list, exit_code: int, conditions: tuple[str, ...] = (), container: str = "") -> str:
    """The action a Job's podFailurePolicy takes for a failed pod: the first matching rule's, else ``Count``.

    ``onExitCodes`` matches a container (any, unless ``containerName`` is set) whose exit code is
    ``In`` (or ``NotIn``) the values; ``onPodConditions`` matches a pod condition of that type
    (status True unless given). Kubernetes evaluates the rules in order and stops at the first match.
    """
    for rule in rules or []:
        if not isinstance(rule, dict):
            continue
        codes = rule.get("onExitCodes")
        if isinstance(codes, dict):
            name = codes.get("containerName")
            values = codes.get("values") or []
            inside = exit_code in values
            if (name in (None, container)) and (inside if codes.get("operator") == "In" else
                                                 (codes.get("operator") == "NotIn" and not inside)):
                return rule.get("action", "")
        for condition in rule.get("onPodConditions") or []:
            if isinstance(condition, dict) and condition.get("type") in conditions and \
                    str(condition.get("status", "True")) == "True":
                return rule.get("action", "")
    return "Count"


def check_preemptible_job(text: Any, gpus: int | None = None, exit_code: int | None = None,
                          grace_above_s: int | None = None, backoff_limit: int | None = None,
                          version: str = K8S_VERSION) -> dict:
    """Parse, validate and check a batch/v1 Job that survives preemption; return a summary.

    Judged by what its podFailurePolicy *does* (rules in order, first match wins, as Kubernetes
    evaluates them): a pod killed by a disruption (condition DisruptionTarget, exit code 143 after
    SIGTERM) must be ignored; a pod that exits with ``exit_code`` must fail the Job at once; an
    ordinary crash (exit code 1) must still count against ``backoffLimit``. Also: restartPolicy
    Never (required by podFailurePolicy), a grace period above ``grace_above_s`` (the time a
    checkpoint takes), the ``backoffLimit`` and the GPUs of the pod.
    Returns ``{"name", "gpus", "grace_period_s", "backoff_limit", "on_disruption", "on_exit_code",
    "on_crash"}``.
    """
    obj = parse(text, "Job")
    api, kind = _kind(obj)
    if kind != "Job":
        raise ManifestError(f"expected kind Job, got {kind!r}", path="kind")
    validate(obj, version)
    spec = obj["spec"]
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if pod.get("restartPolicy") != "Never":
        raise ManifestError("the pod template's restartPolicy must be Never: Kubernetes accepts a podFailurePolicy "
                            "only then", path="spec.template.spec.restartPolicy")
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    if not rules:
        raise ManifestError("the Job has no spec.podFailurePolicy rules, so a preemption counts as a failure and an "
                            "unfixable error is retried", path="spec.podFailurePolicy")
    name0 = str((containers[0] if containers else {}).get("name", ""))
    on_disruption = _failure_action(rules, 143, ("DisruptionTarget",), name0)
    on_crash = _failure_action(rules, 1, (), name0)
    summary = {"name": (obj.get("metadata") or {}).get("name"), "on_disruption": on_disruption, "on_crash": on_crash,
               "gpus": sum(gpu_count(c, f"spec.template.spec.containers[{i}]") for i, c in enumerate(containers)),
               "grace_period_s": pod.get("terminationGracePeriodSeconds", 30),
               "backoff_limit": spec.get("backoffLimit", 6)}
    if on_disruption != "Ignore":
        raise ManifestError(f"a pod evicted by preemption or a drain (condition DisruptionTarget, exit code 143) gets "
                            f"action {on_disruption}; it should be Ignore, so disruptions do not use up backoffLimit "
                            "(rules are evaluated in order: the first match wins)", path="spec.podFailurePolicy.rules")
    if exit_code is not None:
        summary["on_exit_code"] = _failure_action(rules, exit_code, (), name0)
        if summary["on_exit_code"] != "FailJob":
            raise ManifestError(f"a pod that exits with code {exit_code} gets action {summary['on_exit_code']}; this "
                                "task wants FailJob (the error cannot be fixed by retrying)",
                                path="spec.podFailurePolicy.rules")
    if on_crash in ("FailJob", "Ignore"):
        raise ManifestError(f"an ordinary crash (exit code 1) gets action {on_crash}; it should count against "
                            "backoffLimit so the Job retries it", path="spec.podFailurePolicy.rules")
    if grace_above_s is not None and not summary["grace_period_s"] > grace_above_s:
        raise ManifestError(f"terminationGracePeriodSeconds is {summary['grace_period_s']} s; the checkpoint takes "
                            f"{grace_above_s} s, so SIGKILL would cut it off", path="spec.template.spec")
    if backoff_limit is not None and summary["backoff_limit"] != backoff_limit:
        raise ManifestError(f"backoffLimit is {summary['backoff_limit']}; this task wants {backoff_limit}",
                            path="spec.backoffLimit")
    if gpus is not None and summary["gpus"] != gpus:
        raise ManifestError(f"the pod asks for {summary['gpus']} GPUs; this task wants {gpus}",
                            path="spec.template.spec.containers")
    return summary


def grade_preemptible_job(question: str, text: Any, **kwargs) -> dict:
    """Hidden check: :func:`check_preemptible_job`, reported as a one-line answer error."""
    return _grade(question, text, check_preemptible_job, **kwargs)


def _quota(res: dict, key: str) -> Fraction | None:
    return parse_quantity(res[key]) if key in res else None


def check_clusterqueue(text: Any, gpu_quota: int | None = None, cohort: str | None = None,
                       borrowing_limit: int | None = None, cpu_quota: int | float | None = None,
                       name: str | None = None, reclaim: str | None = None,
                       api_version: str | None = None) -> dict:
    """Parse, validate and check a Kueue ClusterQueue with a GPU quota; return a summary.

    Optional requirements: the nominal GPU and CPU quotas, the cohort, the GPU borrowing limit,
    ``metadata.name``, ``spec.preemption.reclaimWithinCohort`` and the apiVersion (a deprecated
    v1beta1 object is refused when ``api_version`` asks for v1beta2). Returns ``{"name",
    "api_version", "cohort", "gpu_quota", "cpu_quota", "gpu_borrowing_limit", "gpu_lending_limit",
    "flavors", "reclaim_within_cohort", "deprecated"}``; quotas add up over flavors (a limit is
    None when no flavor sets it).
    """
    obj = parse(text, "ClusterQueue")
    api, kind = _kind(obj)
    if kind != "ClusterQueue":
        raise ManifestError(f"expected kind ClusterQueue, got {kind!r}", path="kind")
    if api_version is not None and api != api_version:
        note = deprecation(obj)
        raise ManifestError(f"apiVersion is {api}; this task wants {api_version}" + (f" ({note})" if note else ""),
                            path="apiVersion")
    raw_groups = (obj.get("spec") or {}).get("resourceGroups") if isinstance(obj.get("spec"), dict) else None
    for g, group in enumerate(raw_groups if isinstance(raw_groups, list) else []):
        covered = group.get("coveredResources") if isinstance(group, dict) else None
        for res_name in covered if isinstance(covered, list) else []:
            if isinstance(res_name, str) and _near_gpu_name(res_name):
                raise ManifestError(f"spec.resourceGroups[{g}].coveredResources lists {res_name!r}; Kueue counts the "
                                    f"GPUs pods request, which are named {GPU_RESOURCE!r}",
                                    path=f"spec.resourceGroups[{g}].coveredResources")
    validate(obj)
    spec = obj["spec"]
    groups = spec.get("resourceGroups") or []
    if not any(GPU_RESOURCE in g["coveredResources"] for g in groups):
        raise ManifestError(f"no resource group covers {GPU_RESOURCE}, so this ClusterQueue sets no GPU quota",
                            path="spec.resourceGroups")
    sums: dict[str, dict[str, Fraction | None]] = {}
    flavors = []
    for group in groups:
        for flavor in group["flavors"]:
            if flavor["name"] not in flavors:
                flavors.append(flavor["name"])
            for res in flavor["resources"]:
                entry = sums.setdefault(res["name"], {"nominalQuota": Fraction(0), "borrowingLimit": None,
                                                      "lendingLimit": None})
                for key in ("nominalQuota", "borrowingLimit", "lendingLimit"):
                    value = _quota(res, key)
                    if value is None:
                        continue
                    if res["name"] == GPU_RESOURCE and value.denominator != 1:
                        raise ManifestError(f"flavor {flavor['name']!r}: the {GPU_RESOURCE} {key} is {res[key]!r}; "
                                            "GPU quotas are whole numbers of GPUs", path="spec.resourceGroups")
                    entry[key] = value if entry[key] is None else entry[key] + value
    gpu, cpu = sums[GPU_RESOURCE], sums.get("cpu")
    cohort_name = spec.get("cohort", spec.get("cohortName"))
    summary = {"name": obj["metadata"]["name"], "api_version": api, "cohort": cohort_name,
               "gpu_quota": int(gpu["nominalQuota"]),
               "cpu_quota": None if cpu is None else float(cpu["nominalQuota"]),
               "gpu_borrowing_limit": None if gpu["borrowingLimit"] is None else int(gpu["borrowingLimit"]),
               "gpu_lending_limit": None if gpu["lendingLimit"] is None else int(gpu["lendingLimit"]),
               "flavors": flavors,
               "reclaim_within_cohort": (spec.get("preemption") or {}).get("reclaimWithinCohort", "Never"),
               "deprecated": deprecation(obj)}
    field_name = "cohort" if api.endswith("v1beta1") else "cohortName"
    if name is not None and summary["name"] != name:
        raise ManifestError(f"metadata.name is {summary['name']!r}; this task wants {name!r}", path="metadata.name")
    if gpu_quota is not None and summary["gpu_quota"] != gpu_quota:
        raise ManifestError(f"the nominal GPU quota adds up to {summary['gpu_quota']}; this task wants {gpu_quota}",
                            path="spec.resourceGroups")
    if cpu_quota is not None:
        if cpu is None:
            raise ManifestError("no resource group covers cpu, so the ClusterQueue sets no CPU quota and Kueue admits "
                                "no workload that requests CPU", path="spec.resourceGroups")
        if Fraction(str(cpu_quota)) != cpu["nominalQuota"]:
            raise ManifestError(f"the nominal cpu quota adds up to {float(cpu['nominalQuota']):g}; this task wants "
                                f"{cpu_quota:g}", path="spec.resourceGroups")
    if cohort is not None and cohort_name != cohort:
        raise ManifestError(f"the ClusterQueue should join cohort {cohort!r} (spec.{field_name}); it has {cohort_name!r}",
                            path=f"spec.{field_name}")
    if borrowing_limit is not None and summary["gpu_borrowing_limit"] != borrowing_limit:
        raise ManifestError(f"the GPU borrowingLimit is {summary['gpu_borrowing_limit']}; this task wants "
                            f"{borrowing_limit}", path="spec.resourceGroups")
    if reclaim is not None and summary["reclaim_within_cohort"] != reclaim:
        meaning = {"Never": "never reclaims lent quota", "Any": "reclaims from workloads of any priority",
                   "LowerPriority": "reclaims only from lower-priority workloads"}
        got = summary["reclaim_within_cohort"]
        raise ManifestError(f"spec.preemption.reclaimWithinCohort is {got} ({meaning.get(got, 'not a policy')}); "
                            f"this task wants {reclaim} ({meaning.get(reclaim, '')})",
                            path="spec.preemption.reclaimWithinCohort")
    return summary


def effective_requests(container: dict) -> dict[str, Fraction]:
    """What a container requests, resource by resource (a request left out defaults to the limit)."""
    res = (container or {}).get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    return {name: parse_quantity(requests.get(name, limits.get(name))) for name in set(limits) | set(requests)}


def _fmt_quantity(name: str, value: Fraction) -> str:
    if name == "memory":
        return f"{float(value) / 2**30:,.0f} Gi"
    return f"{float(value):,.0f}" if value.denominator == 1 else f"{float(value):,.2f}"


def agreement(docs: list[dict]) -> list[dict]:
    """Do a namespace's objects agree with each other? One row a check: ``{"check", "ok", "detail"}``.

    ``docs`` are parsed manifests (ResourceFlavor, ClusterQueue, LocalQueue, ResourceQuota,
    LimitRange, PriorityClass and GPU workloads). Checks, where the objects are present:

    - each LocalQueue points at a ClusterQueue that exists, and each ClusterQueue's flavors exist;
    - every workload's ``kueue.x-k8s.io/queue-name`` label names a LocalQueue in its namespace, and
      its priority class exists;
    - the namespace's ResourceQuota leaves room for what its ClusterQueue may admit (nominal quota
      plus borrowing limit, for every covered resource): otherwise the quota rejects pods Kueue
      has admitted, and borrowing can never be used;
    - every container of a workload states its CPU and memory requests (else the LimitRange's
      defaults apply) and stays within the LimitRange's maximums;
    - the whole workload fits what its ClusterQueue may admit.
    """
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(_kind(doc)[1], []).append(doc)
    rows: list[dict] = []

    def row(check: str, ok: bool, detail: str) -> None:
        rows.append({"check": check, "ok": bool(ok), "detail": detail})

    def name_of(d: dict) -> str | None:
        return (d.get("metadata") or {}).get("name")

    def ns_of(d: dict) -> str:
        return (d.get("metadata") or {}).get("namespace", "default")

    cqs = {name_of(d): d for d in by_kind.get("ClusterQueue", [])}
    flavors = {name_of(d) for d in by_kind.get("ResourceFlavor", [])}
    lqs = {(ns_of(d), name_of(d)): d for d in by_kind.get("LocalQueue", [])}
    priorities = {name_of(d) for d in by_kind.get("PriorityClass", [])}

    def limits_of(cq: dict) -> dict[str, Fraction | None]:
        """Most the ClusterQueue may admit per covered resource (None: unbounded borrowing)."""
        out: dict[str, Fraction | None] = {}
        spec = cq.get("spec") or {}
        in_cohort = bool(spec.get("cohort") or spec.get("cohortName"))
        for group in spec.get("resourceGroups") or []:
            for flavor in group.get("flavors") or []:
                for res in flavor.get("resources") or []:
                    nominal = parse_quantity(res.get("nominalQuota", 0))
                    borrow = _quota(res, "borrowingLimit")
                    most = nominal + (borrow or 0) if (borrow is not None or not in_cohort) else None
                    previous = out.get(res["name"], Fraction(0))
                    out[res["name"]] = None if (most is None or previous is None) else previous + most
        return out

    for (ns, lq_name), lq in lqs.items():
        target = (lq.get("spec") or {}).get("clusterQueue")
        row(f"LocalQueue {ns}/{lq_name} points at a ClusterQueue", target in cqs,
            f"clusterQueue: {target}" + ("" if target in cqs else " (no such ClusterQueue)"))
    for cq_name, cq in cqs.items():
        used = sorted({f["name"] for g in (cq.get("spec") or {}).get("resourceGroups") or [] for f in g["flavors"]})
        missing = [f for f in used if f not in flavors]
        if flavors or missing:
            row(f"ClusterQueue {cq_name}'s flavors exist", not missing,
                f"flavors {', '.join(used)}" + (f"; missing {', '.join(missing)}" if missing else ""))

    for quota in by_kind.get("ResourceQuota", []):
        ns = ns_of(quota)
        hard = (quota.get("spec") or {}).get("hard") or {}
        for (lq_ns, _lq_name), lq in lqs.items():
            cq = cqs.get((lq.get("spec") or {}).get("clusterQueue"))
            if lq_ns != ns or cq is None:
                continue
            for res_name, most in limits_of(cq).items():
                key = next((k for k in (f"requests.{res_name}", res_name) if k in hard), None)
                if key is None:
                    continue
                cap = parse_quantity(hard[key])
                ok = most is not None and cap >= most
                need = "unbounded borrowing" if most is None else _fmt_quantity(res_name, most)
                row(f"ResourceQuota {ns}/{name_of(quota)} leaves room for ClusterQueue {name_of(cq)} ({res_name})", ok,
                    f"{key} = {_fmt_quantity(res_name, cap)}; the ClusterQueue may admit {need} "
                    "(nominal quota + borrowingLimit)")

    workloads = [d for kind in ("Pod", "Job", "PyTorchJob", "TrainJob", "JobSet", "LeaderWorkerSet", "Deployment")
                 for d in by_kind.get(kind, [])]
    limit_ranges = by_kind.get("LimitRange", [])
    for wl in workloads:
        ns, wl_name, kind = ns_of(wl), name_of(wl), _kind(wl)[1]
        label = ((wl.get("metadata") or {}).get("labels") or {}).get("kueue.x-k8s.io/queue-name")
        groups = pod_templates(wl)
        if label is not None or lqs:
            row(f"{kind} {wl_name} is labelled with a LocalQueue of {ns}", (ns, label) in lqs,
                f"kueue.x-k8s.io/queue-name: {label}")
        for _group_label, template, _n in groups:
            pc = ((template or {}).get("spec") or {}).get("priorityClassName")
            if pc is not None and priorities:
                row(f"{kind} {wl_name}'s priority class exists", pc in priorities, f"priorityClassName: {pc}")
                break
        for lr in (r for r in limit_ranges if ns_of(r) == ns):
            items = [i for i in (lr.get("spec") or {}).get("limits") or [] if i.get("type") == "Container"]
            for group_label, template, _n in groups:
                for c in ((template or {}).get("spec") or {}).get("containers") or []:
                    asked = effective_requests(c)
                    unset = [r for r in ("cpu", "memory") if r not in asked]
                    defaults = {k: v for i in items for k, v in (i.get("defaultRequest") or {}).items()}
                    row(f"{kind} {wl_name} ({group_label}) states its CPU and memory requests", not unset,
                        "requests set" if not unset else
                        "unset: " + ", ".join(f"{r} (the LimitRange default {defaults.get(r, 'none')} applies)"
                                              for r in unset))
                    for item in items:
                        for res_name, cap in (item.get("max") or {}).items():
                            value = asked.get(res_name)
                            if value is not None:
                                row(f"{kind} {wl_name} ({group_label}) is within the LimitRange max for {res_name}",
                                    value <= parse_quantity(cap), f"asks {_fmt_quantity(res_name, value)}, max "
                                    f"{_fmt_quantity(res_name, parse_quantity(cap))}")
        lq = lqs.get((ns, label))
        cq = cqs.get((lq.get("spec") or {}).get("clusterQueue")) if lq else None
        if cq is not None:
            need: dict[str, Fraction] = {}
            for _g, template, n in groups:
                for c in ((template or {}).get("spec") or {}).get("containers") or []:
                    for res_name, value in effective_requests(c).items():
                        need[res_name] = need.get(res_name, Fraction(0)) + n * value
            for res_name, most in limits_of(cq).items():
                if res_name in need:
                    row(f"{kind} {wl_name} fits ClusterQueue {name_of(cq)} ({res_name})",
                        most is None or need[res_name] <= most,
                        f"needs {_fmt_quantity(res_name, need[res_name])}, may admit "
                        f"{'unbounded' if most is None else _fmt_quantity(res_name, most)}")
    return rows


# --------------------------------------------------------------------------- Slurm

_SHORT = {"N": "nodes", "n": "ntasks", "p": "partition", "G": "gpus", "J": "job-name", "t": "time",
          "c": "cpus-per-task", "o": "output", "e": "error", "A": "account", "q": "qos", "w": "nodelist",
          "x": "exclude", "m": "distribution", "D": "chdir", "C": "constraint"}
_SRUN_FLAGS = {"l", "label", "K", "kill-on-bad-exit", "u", "unbuffered", "exclusive", "overlap", "v", "verbose",
               "Q", "quiet", "X", "disable-status", "no-container-mount-home", "container-remap-root",
               "container-writable", "no-container-entrypoint", "wait-for-children", "whole", "pty", "exact",
               "no-kill", "nonblocking", "spread-job", "multi-prog", "test-only", "reboot", "oversubscribe"}


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


def _strip_comment(line: str) -> str:
    """``line`` without a shell comment: a ``#`` outside quotes that starts a word (``a#b`` is one word)."""
    quote, escaped = None, False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _words(text: str) -> list[str]:
    """Shell words of one command line (quotes removed, comments dropped)."""
    return shlex.split(_strip_comment(text))


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
    pending = ""
    for number, raw in enumerate(lines[1:], start=2):
        stripped = raw.strip()
        if pending:
            stripped, pending = pending + " " + stripped, ""
        if stripped.startswith("#SBATCH"):
            body = stripped[len("#SBATCH"):]
            if body and not body[0].isspace():
                raise ManifestError(f"line {number}: write '#SBATCH --option', with a space after #SBATCH", line=number)
            if commands_started:
                script.ignored.append((number, stripped))
                continue
            try:
                tokens = _words(body)
            except ValueError as exc:
                raise ManifestError(f"line {number}: cannot read the directive ({exc})", line=number) from None
            while tokens:
                name, value = _split_option(tokens.pop(0), tokens, number)
                script.directives[name] = value
                script.directive_lines[name] = number
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending = stripped[:-1]
            continue
        commands_started = True
        try:
            words = _words(stripped)
        except ValueError as exc:
            raise ManifestError(f"line {number}: cannot read the command ({exc})", line=number) from None
        while words and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]) or words[0] in ("exec", "time")):
            words.pop(0)
        if words and words[0] == "srun":
            script.srun_lines.append((number, words[1:]))
    return script


def srun_command(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split srun's arguments into its options (long names) and the command each task runs.

    ``-N1``, ``-N 1``, ``--nodes=1`` and ``--nodes 1`` all read as ``{"nodes": "1"}``. When the
    command is ``bash -c '...'`` (or ``sh -c``), the command returned is the first program the
    quoted script runs, after ``cd``, ``export``, ``source`` and variable assignments.
    """
    options: dict[str, str] = {}
    words = list(args)
    while words and words[0].startswith("-") and words[0] != "--":
        token = words.pop(0)
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            if not eq and name not in _SRUN_FLAGS:
                value = words.pop(0) if words else ""
            options[name] = value
        else:
            letter, value = token[1], token[2:].lstrip("=")
            if letter in _SRUN_FLAGS:
                options[_SHORT.get(letter, letter)] = ""
                continue
            if not value:
                value = words.pop(0) if words else ""
            options[_SHORT.get(letter, letter)] = value
    if words and words[0] == "--":
        words.pop(0)
    return options, _unwrap_shell(words)


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
                 one_task_per_gpu: bool = True, partition: str | None = None, program: str | None = None) -> dict:
    """Check an sbatch script for a multi-node GPU job; return a summary or raise ManifestError.

    Besides the directives, it reads what the last ``srun`` really starts: srun options that
    shrink the allocation (``-n 1``, ``-N1``...) are errors, and so is a launcher that starts
    several processes in each task (``srun torchrun --nproc-per-node=8`` under 8 tasks a node
    makes 64 processes a node). Processes a node must equal GPUs a node. With
    ``one_task_per_gpu`` the tasks a node must equal the GPUs a node; without it, one task a
    node running ``torchrun --nproc-per-node=G`` is accepted too. ``program`` (e.g.
    ``"train.py"``) must appear in the command each task runs, also inside ``bash -c '...'``.

    Returns ``{"nodes", "gpus_per_node", "gpu_option", "ntasks_per_node", "total_gpus",
    "total_tasks", "partition", "srun_args", "command", "processes_per_node"}``.
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
    total_tasks = _int_option(script, "ntasks")
    if nodes is not None and got_nodes != nodes:
        raise ManifestError(f"line {script.directive_lines['nodes']}: --nodes is {got_nodes}; this job needs {nodes}",
                            line=script.directive_lines["nodes"])
    if gpus_per_node is not None and per_node != gpus_per_node:
        line = script.directive_lines.get(option)
        raise ManifestError(f"line {line}: the script asks for {per_node} GPUs a node; this job needs {gpus_per_node}",
                            line=line)
    if partition is not None and script.get("partition") != partition:
        raise ManifestError(f"the partition is {script.get('partition')!r}; this job runs in {partition!r} "
                            "(#SBATCH --partition)", line=script.directive_lines.get("partition"))
    if tasks is None and total_tasks is not None and total_tasks % got_nodes == 0:
        tasks = total_tasks // got_nodes
    if one_task_per_gpu:
        if tasks is None:
            raise ManifestError("no #SBATCH --ntasks-per-node: for one process per GPU, set it to the GPUs per node")
        if tasks != per_node:
            where = script.directive_lines.get("ntasks-per-node", script.directive_lines.get("ntasks"))
            raise ManifestError(f"line {where}: {tasks} task(s) a node but {per_node} GPUs a node; one task per GPU "
                                "needs them equal (#SBATCH --ntasks-per-node)", line=where)
    tasks = tasks or 1
    if not script.srun_lines:
        raise ManifestError("no srun line: without srun the program runs once, on the first node only")
    srun_line, srun_args = script.srun_lines[-1]
    options, command = srun_command(srun_args)
    allocation = {"nodes": got_nodes, "ntasks-per-node": tasks, "ntasks": got_nodes * tasks}
    for key, want in allocation.items():
        if key in options:
            got = options[key]
            if not got.isdigit() or int(got) != want:
                started = {"nodes": f"runs on {got} node(s)", "ntasks": f"starts {got} task(s) in all",
                           "ntasks-per-node": f"starts {got} task(s) a node"}[key]
                raise ManifestError(f"line {srun_line}: srun --{key}={got} {started}, but the allocation has "
                                    f"{want}: leave it out (srun inherits the allocation) or make it match",
                                    line=srun_line)
    if not command:
        raise ManifestError(f"line {srun_line}: srun has no command to run", line=srun_line)
    procs = _launcher_procs(command)
    if procs is not None and tasks > 1:
        made = f"{tasks * procs} processes a node" if procs > 0 else "processes decided at run time"
        raise ManifestError(f"line {srun_line}: srun starts {tasks} tasks a node and each runs {Path(command[0]).name} "
                            f"as its own launcher ({procs if procs > 0 else 'auto'} worker(s) each): {made} for "
                            f"{per_node} GPUs, and the launchers of one node do not know of each other. With one task "
                            "per GPU each task runs the program itself (python train.py); torchrun belongs with "
                            "--ntasks-per-node=1", line=srun_line)
    per_task = 1 if procs is None else procs
    processes = tasks * per_task if per_task > 0 else None
    if processes is not None and processes != per_node:
        raise ManifestError(f"line {srun_line}: {processes} processes a node ({tasks} task(s) x {per_task}) for "
                            f"{per_node} GPUs; start one process per GPU", line=srun_line)
    if program is not None and not any(Path(w).name == program or w == program for w in command):
        raise ManifestError(f"line {srun_line}: the tasks run {' '.join(command)!r}, not {program}", line=srun_line)
    return {"nodes": got_nodes, "gpus_per_node": per_node, "gpu_option": option, "ntasks_per_node": tasks,
            "total_gpus": got_nodes * per_node, "total_tasks": got_nodes * tasks,
            "partition": script.get("partition"), "srun_args": srun_args, "command": command,
            "processes_per_node": processes}


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


def grade_manifest(question: str, text: Any, kinds: tuple[str, ...] | str, version: str = K8S_VERSION) -> dict:
    """Hidden check: one document of one of ``kinds`` that passes its schema; returns it parsed."""
    if text is Ellipsis or text is None:
        raise ck.NotAnswered(question, "not answered yet: replace the ... with your YAML text and run the cell")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    try:
        obj = parse(text)
        _api, kind = _kind(obj)
        if kind not in kinds:
            raise ManifestError(f"expected kind {' or '.join(kinds)}, got {kind!r}")
        validate(obj, version)
    except ManifestError as exc:
        raise ck.WrongAnswer(question, str(exc)) from None
    return obj
