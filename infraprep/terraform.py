"""A tiny reader for the subset of Terraform's HCL that the course's artefacts use.

Enough to answer "what does this file cost per hour, and is it wired right?": blocks with labels
(``resource "aws_instance" "trainer" { ... }``), attributes (``key = value``) whose
values are strings, numbers, booleans, lists, maps or references (``var.gpu_nodes``),
and the three comment styles (``#``, ``//``, ``/* */``). It does not evaluate
expressions beyond ``var.NAME`` lookups of variable defaults and the ``range(...)`` of a
``dynamic`` block's ``for_each``; anything else is kept as text. For real work use
``terraform plan`` or ``terraform show -json``.

Source for the language: HashiCorp, Terraform language documentation (resources,
variables, the ``count`` meta-argument).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Block", "Reference", "parse", "variables", "resources", "instance_counts", "hourly_cost_usd",
    "nested_blocks", "network_interfaces", "efa_interface_counts", "placement_groups",
    "instances_outside_placement_groups", "fsx_lustre_file_systems",
]


@dataclass(frozen=True)
class Reference:
    """An unevaluated expression such as ``var.gpu_nodes`` or ``aws_placement_group.training.id``."""

    text: str


@dataclass
class Block:
    """A block: ``type`` (``resource``, ``variable``...), its labels, attributes and nested blocks."""

    type: str
    labels: list[str]
    attributes: dict[str, Any] = field(default_factory=dict)
    blocks: list["Block"] = field(default_factory=list)


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?(?P<tag>[A-Za-z_]+)\n.*?\n\s*(?P=tag)\b)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_*][A-Za-z0-9_\-]*|\[\d+\])*)
  | (?P<punct>[{}\[\]=,:()])
  | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "tag":
            kind = "heredoc"
        if kind in ("ws", "comment"):
            if kind == "ws" and "\n" in match.group():
                out.append(("newline", "\n", match.start()))
            elif kind == "comment" and match.group().startswith(("#", "//")):
                out.append(("newline", "\n", match.end()))
            continue
        out.append((kind, match.group(), match.start()))
    out.append(("eof", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def error(self, message: str) -> ValueError:
        pos = self.toks[self.i][2]
        line = self.text.count("\n", 0, pos) + 1
        return ValueError(f"line {line}: {message}")

    def peek(self, skip_newlines: bool = True) -> tuple[str, str, int]:
        while skip_newlines and self.toks[self.i][0] == "newline":
            self.i += 1
        return self.toks[self.i]

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise self.error(f"expected {value or kind}, found {tok[1]!r}")
        self.i += 1
        return tok

    def body(self, closing: str | None) -> tuple[dict[str, Any], list[Block]]:
        attributes: dict[str, Any] = {}
        blocks: list[Block] = []
        while True:
            tok = self.peek()
            if tok[0] == "eof":
                if closing:
                    raise self.error("unexpected end of file: a block is not closed")
                return attributes, blocks
            if tok[0] == "punct" and tok[1] == closing:
                self.i += 1
                return attributes, blocks
            name = self.take("ident")[1]
            nxt = self.peek()
            if nxt[1] == "=":
                self.i += 1
                attributes[name] = self.value()
            else:
                labels = []
                while self.peek()[0] == "string":
                    labels.append(_unquote(self.take("string")[1]))
                self.take("punct", "{")
                attrs, inner = self.body("}")
                blocks.append(Block(name, labels, attrs, inner))

    def value(self) -> Any:
        tok = self.peek()
        kind, text = tok[0], tok[1]
        if kind == "string":
            self.i += 1
            return _unquote(text)
        if kind == "heredoc":
            self.i += 1
            return text.split("\n", 1)[1].rsplit("\n", 1)[0]
        if kind == "number":
            self.i += 1
            number = float(text)
            return int(number) if number.is_integer() and not re.search(r"[.eE]", text) else number
        if kind == "ident":
            self.i += 1
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            if self.peek(skip_newlines=False)[1] == "(":  # a function call: keep its text
                start = tok[2]
                depth = 0
                while True:
                    t = self.toks[self.i]
                    if t[0] == "eof":
                        raise self.error("unclosed function call")
                    self.i += 1
                    depth += t[1] == "("
                    depth -= t[1] == ")"
                    if depth == 0:
                        return Reference(self.text[start : t[2] + 1])
            return Reference(text)
        if text == "[":
            self.i += 1
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.i += 1
            self.i += 1
            return items
        if text == "{":
            self.i += 1
            mapping = {}
            while self.peek()[1] != "}":
                key_tok = self.peek()
                if key_tok[0] not in ("ident", "string"):
                    raise self.error(f"expected a key, found {key_tok[1]!r}")
                self.i += 1
                key = _unquote(key_tok[1]) if key_tok[0] == "string" else key_tok[1]
                sep = self.peek()
                if sep[1] not in ("=", ":"):
                    raise self.error(f"expected = after {key!r}")
                self.i += 1
                mapping[key] = self.value()
                if self.peek()[1] == ",":
                    self.i += 1
            self.i += 1
            return mapping
        raise self.error(f"unexpected {text!r}")


def _unquote(text: str) -> str:
    return bytes(text[1:-1], "utf-8").decode("unicode_escape") if "\\" in text else text[1:-1]


def parse(text: str) -> list[Block]:
    """Parse HCL text into its top-level blocks (ValueError with a line number on bad input)."""
    attributes, blocks = _Parser(text).body(None)
    if attributes:
        raise ValueError(f"top-level attributes are not valid Terraform: {', '.join(attributes)}")
    return blocks


def variables(text: str) -> dict[str, Any]:
    """Defaults of the file's ``variable`` blocks: ``{name: default}`` (None when no default)."""
    return {b.labels[0]: b.attributes.get("default") for b in parse(text) if b.type == "variable" and b.labels}


def _resolve(value: Any, defaults: dict[str, Any], overrides: dict[str, Any]) -> Any:
    if isinstance(value, Reference) and value.text.startswith("var."):
        name = value.text[4:]
        if name in overrides:
            return overrides[name]
        if name in defaults and defaults[name] is not None:
            return defaults[name]
        raise ValueError(f"variable {name!r} has no default and no value was given")
    return value


def resources(text: str, **overrides: Any) -> list[dict[str, Any]]:
    """The ``resource`` blocks as ``{type, name, count, attributes}``, with ``var.X`` resolved.

    ``count`` is the ``count`` meta-argument (1 when absent). Keyword arguments
    override variable defaults, as ``terraform apply -var gpu_nodes=8`` would.
    """
    defaults = variables(text)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"no such variable: {', '.join(unknown)}")
    out = []
    for block in parse(text):
        if block.type != "resource":
            continue
        if len(block.labels) != 2:
            raise ValueError(f"a resource needs a type and a name, got labels {block.labels}")
        attrs = {k: _resolve(v, defaults, overrides) for k, v in block.attributes.items()}
        n = attrs.pop("count", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{block.labels[0]}.{block.labels[1]}: count must be a whole number ≥ 0, got {n!r}")
        out.append({"type": block.labels[0], "name": block.labels[1], "count": n, "attributes": attrs})
    return out


def instance_counts(text: str, resource_type: str = "aws_instance", **overrides: Any) -> dict[str, int]:
    """``{instance_type: number of instances}`` over the file's compute resources."""
    counts: dict[str, int] = {}
    for res in resources(text, **overrides):
        if res["type"] != resource_type:
            continue
        kind = res["attributes"].get("instance_type")
        if not isinstance(kind, str):
            raise ValueError(f"{res['type']}.{res['name']} has no literal instance_type")
        counts[kind] = counts.get(kind, 0) + res["count"]
    return counts


def hourly_cost_usd(text: str, prices: dict[str, float], resource_type: str = "aws_instance", **overrides: Any) -> float:
    """USD per hour of the file's instances at ``prices`` (instance type → USD per hour).

    Counts only compute instances: storage, buckets and data transfer are billed by
    size or use, not by the hour of the file.
    """
    from .estimates.cost import fleet_hourly_cost_usd

    return fleet_hourly_cost_usd(instance_counts(text, resource_type, **overrides), prices)


# ---------------------------------------------------------------- nested blocks, dynamic blocks

def _value(value: Any, defaults: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """A literal, or a ``var.NAME`` resolved (other references stay as they are)."""
    if isinstance(value, Reference) and value.text.startswith("var.") and "(" not in value.text:
        return _resolve(value, defaults, overrides)
    return value


def _range(expr: Any, defaults: dict[str, Any], overrides: dict[str, Any]) -> list[int]:
    """Evaluate ``range(a)``, ``range(a, b)`` or ``range(a, b, step)`` with literal or ``var.X`` arguments."""
    text = expr.text if isinstance(expr, Reference) else str(expr)
    match = re.fullmatch(r"\s*range\((.*)\)\s*", text)
    if not match:
        raise ValueError(f"only for_each = range(...) is understood here, got {text!r}")
    args = []
    for part in (p.strip() for p in match.group(1).split(",")):
        if re.fullmatch(r"-?\d+", part):
            args.append(int(part))
        elif part.startswith("var."):
            value = _resolve(Reference(part), defaults, overrides)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{part} must be a whole number for range(), got {value!r}")
            args.append(value)
        else:
            raise ValueError(f"cannot evaluate {part!r} in {text!r}")
    if not 1 <= len(args) <= 3:
        raise ValueError(f"range() takes 1 to 3 arguments, got {text!r}")
    return list(range(*args))


def nested_blocks(block: Block, block_type: str, defaults: dict[str, Any] | None = None,
                  **overrides: Any) -> list[dict[str, Any]]:
    """The attributes of every ``block_type`` block inside ``block``, ``dynamic`` ones expanded.

    A ``dynamic "NAME" { for_each = range(...) content { ... } }`` block becomes one copy of
    its ``content`` a value, with ``NAME.value``/``NAME.key`` replaced by the value/index.
    ``var.X`` attributes are resolved from ``defaults`` (the file's variables) and overrides.
    """
    defaults = defaults or {}
    out: list[dict[str, Any]] = []
    for inner in block.blocks:
        if inner.type == block_type:
            out.append({k: _value(v, defaults, overrides) for k, v in inner.attributes.items()})
        elif inner.type == "dynamic" and inner.labels == [block_type]:
            content = [b for b in inner.blocks if b.type == "content"]
            if len(content) != 1:
                raise ValueError(f"dynamic {block_type!r} needs exactly one content block")
            for index, item in enumerate(_range(inner.attributes.get("for_each"), defaults, overrides)):
                copy = {}
                for key, value in content[0].attributes.items():
                    if isinstance(value, Reference) and value.text == f"{block_type}.value":
                        value = item
                    elif isinstance(value, Reference) and value.text == f"{block_type}.key":
                        value = index
                    copy[key] = _value(value, defaults, overrides)
                out.append(copy)
    return out


def _blocks_of(text: str, resource_type: str) -> list[Block]:
    return [b for b in parse(text) if b.type == "resource" and b.labels[:1] == [resource_type]]


def network_interfaces(text: str, **overrides: Any) -> dict[str, list[dict[str, Any]]]:
    """``{launch template name: [interface attributes, ...]}``, dynamic blocks expanded."""
    defaults = variables(text)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"no such variable: {', '.join(unknown)}")
    return {b.labels[1]: nested_blocks(b, "network_interfaces", defaults, **overrides)
            for b in _blocks_of(text, "aws_launch_template")}


def efa_interface_counts(text: str, **overrides: Any) -> dict[str, int]:
    """``{launch template name: number of interfaces with interface_type = "efa"}``.

    A file that says "EFA" but declares none gets 0 here: without EFA interfaces the nodes
    talk over plain TCP through the instance's ENA device, however fast the instance is.
    """
    return {name: sum(1 for nic in nics if nic.get("interface_type") == "efa")
            for name, nics in network_interfaces(text, **overrides).items()}


def placement_groups(text: str, **overrides: Any) -> dict[str, str | None]:
    """``{"aws_instance.NAME": placement group reference or None}`` for every instance resource."""
    out: dict[str, str | None] = {}
    for res in resources(text, **overrides):
        if res["type"] != "aws_instance":
            continue
        group = res["attributes"].get("placement_group")
        out[f"aws_instance.{res['name']}"] = group.text if isinstance(group, Reference) else group
    return out


def instances_outside_placement_groups(text: str, **overrides: Any) -> list[str]:
    """Instance resources with no placement group (sorted): a hot spare there would join the job
    from elsewhere in the network."""
    return sorted(name for name, group in placement_groups(text, **overrides).items() if not group)


def fsx_lustre_file_systems(text: str, **overrides: Any) -> list[dict[str, Any]]:
    """The file's FSx for Lustre file systems: ``name``, ``capacity_gib``, ``deployment_type``,
    ``mb_s_per_tib`` (per_unit_storage_throughput) and ``count``."""
    out = []
    for res in resources(text, **overrides):
        if res["type"] != "aws_fsx_lustre_file_system":
            continue
        attrs = res["attributes"]
        out.append({"name": res["name"], "count": res["count"], "capacity_gib": attrs.get("storage_capacity"),
                    "deployment_type": attrs.get("deployment_type"),
                    "mb_s_per_tib": attrs.get("per_unit_storage_throughput")})
    return out
