"""Same results, less CPU: speed-ups for the grader's own processes (never for the student's kernel).

nbgrader's ``CheckCellMetadata`` (run twice a notebook by ``nbgrader autograde``: once when the
submission is sanitized, once after its grades are saved) checks every cell's nbgrader metadata with
``jsonschema.validate(metadata, schema)``. That call first checks the *schema* against its
metaschema and builds a new validator, every time: about 0.2 s of CPU a notebook here, in the one
process that writes the gradebook. :func:`install` makes nbgrader's metadata module use a
``validate`` that checks each (unchanged) schema once and keeps its validator; what it accepts, what
it rejects and the error it raises are those of ``jsonschema.validate``.

Importing ``jsonschema`` (which nbformat does) also builds about 35 Earley parsers for the IRI
grammar of ``rfc3987_syntax``, its optional checker of the ``iri`` string format: about 1.3 s of CPU
in every process (python-jsonschema/jsonschema#1428). No notebook or nbgrader schema uses that
format, so the grader's own processes (the ``infraprep`` command, its workers) skip it:
:func:`skip_iri_grammars`.
"""

from __future__ import annotations

import json
import sys
import threading
import types

_LOCK = threading.Lock()


def _cached_validate(jsonschema):
    cache: dict[str, object] = {}

    def validate(instance, schema, cls=None, *args, **kwargs):
        if cls is not None or args or kwargs or not isinstance(schema, dict):
            return jsonschema.validate(instance, schema, cls, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        validator = cache.get(key)
        if validator is None:
            with _LOCK:
                kind = jsonschema.validators.validator_for(schema)
                kind.check_schema(schema)
                validator = cache[key] = kind(json.loads(key))
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    return validate


def install() -> None:
    """Use the cached validator in nbgrader's metadata checks (idempotent)."""
    try:
        import jsonschema
        from nbgrader.nbgraderformat import common
    except ImportError:
        return
    if getattr(common.jsonschema, "_infraprep_cached", False):
        return
    proxy = types.ModuleType("jsonschema")
    proxy.__dict__.update({k: v for k, v in vars(jsonschema).items() if not k.startswith("__")})
    proxy.validate = _cached_validate(jsonschema)
    proxy._infraprep_cached = True
    common.jsonschema = proxy


def skip_iri_grammars() -> None:
    """Let ``jsonschema`` load without its ``iri`` format checker (call before anything imports it;
    that checker is then missing, as on an install without ``rfc3987_syntax``)."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None: an import of it raises ImportError
