"""serverless.yml as the framework reads it, without Node: includes, merged fragments, variables.

This module follows serverless.yml's `${file(...)}` includes and merges the `resources` and
`functions` lists of fragments as the framework does (`load_config`), and resolves the framework's
`${self:...}`, `${sls:stage}` and `${param:...}` variables for a stage (`resolve_variables`), so
that the unit tests (moto), the local stack and the site build read exactly what `sls deploy` would.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"

_VARIABLE = re.compile(r"\$\{([^{}]+)\}")


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !GetAtt, ...) as their long form."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


_FILE = re.compile(r"\$\{file\(([^()]+)\)(?::([^{}]+))?\}")
# The keys whose value may be a list of fragments, deep-merged in order (osls Service.mergeArrays).
_MERGED_LISTS = ("functions", "resources")


def read_yaml(path: Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CloudFormationLoader)


def _merge(target, source):
    """Deep merge as the framework merges fragments: mappings key by key, lists item by item; a
    later value wins."""
    if isinstance(target, dict) and isinstance(source, dict):
        merged = dict(target)
        for key, value in source.items():
            merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    if isinstance(target, list) and isinstance(source, list):
        return [_merge(target[i], source[i]) if i < len(source) else target[i] for i in range(len(target))] + \
            source[len(target):]
    return source


def _include(value, service_dir: Path, depth: int = 0):
    """The value with every `${file(path)}` / `${file(path):a.b}` in place (recursively).

    Like the framework, a path is relative to the service folder (also inside an included file),
    and only a whole value can be an include.
    """
    if depth > 20:
        raise ValueError("${file(...)} includes nest too deep (a cycle?)")
    if isinstance(value, dict):
        return {key: _include(item, service_dir, depth) for key, item in value.items()}
    if isinstance(value, list):
        return [_include(item, service_dir, depth) for item in value]
    if not isinstance(value, str) or "${file(" not in value:
        return value
    whole = _FILE.fullmatch(value.strip())
    if not whole:
        raise ValueError(f"{value!r}: only a whole value can be a ${{file(...)}} include here")
    path = service_dir / whole.group(1).strip().strip("'\"")
    if not path.is_file():
        raise FileNotFoundError(f"{value}: no file {path}")
    content = read_yaml(path)
    address = whole.group(2)
    for part in address.split(".") if address else ():
        content = content[part.strip()]
    return _include(content, service_dir, depth + 1)


def load_config(path: Path = SERVERLESS_YML) -> dict:
    """The configuration as the framework sees it before resolving variables: includes in place,
    `functions` and `resources` fragment lists merged."""
    path = Path(path)
    config = _include(read_yaml(path), path.parent)
    for key in _MERGED_LISTS:
        if isinstance(config.get(key), list):
            merged: dict = {}
            for fragment in config[key]:
                if fragment is None:
                    continue
                if not isinstance(fragment, dict):
                    raise ValueError(f"{path.name}: {key} list holds a non-mapping {fragment!r}")
                merged = _merge(merged, fragment)
            config[key] = merged
    return config


_UNRESOLVED = object()


def resolve_variables(value, config: dict, stage: str, *, keep_unknown: bool = False):
    """`value` with the framework's ${self:...}, ${sls:stage} and ${param:...} variables resolved.

    Any other variable raises, or with `keep_unknown` stays as written: CloudFormation's own
    `${AWS::Region}` or `${Table.Arn}` in an Fn::Sub are not the framework's (stackfiles/cloudformation.py).
    """
    if isinstance(value, dict):
        return {key: resolve_variables(item, config, stage, keep_unknown=keep_unknown)
                for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_variables(item, config, stage, keep_unknown=keep_unknown) for item in value]
    if not isinstance(value, str):
        return value

    def lookup(expression: str):
        expression = expression.strip()
        if expression == "sls:stage":
            return stage
        if expression.startswith("self:"):
            node = config
            for part in expression[len("self:"):].split("."):
                node = node[part]
            return resolve_variables(node, config, stage, keep_unknown=keep_unknown)
        if expression.startswith("param:"):
            name = expression[len("param:"):]
            params = config.get("params", {})
            for scope in (params.get(stage, {}), params.get("default", {})):
                if name in scope:
                    return resolve_variables(scope[name], config, stage, keep_unknown=keep_unknown)
        if keep_unknown:
            return _UNRESOLVED
        raise ValueError(f"cannot resolve ${{{expression}}} outside the framework")

    def substitute(match):
        found = lookup(match.group(1))
        return match.group(0) if found is _UNRESOLVED else str(found)

    whole = _VARIABLE.fullmatch(value)
    if whole:
        found = lookup(whole.group(1))  # keeps a boolean or number as what it is
        return value if found is _UNRESOLVED else found
    # Repeat: a resolved value may hold variables itself.
    previous = None
    while previous != value and _VARIABLE.search(value):
        previous, value = value, _VARIABLE.sub(substitute, value)
    return value
