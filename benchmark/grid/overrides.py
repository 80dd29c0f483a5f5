"""Changes to the hyperparameter table from the command line (`--set agent.tau=0.001`) or a YAML file
(`--config my.yaml`, `{agent: {tau: 0.001}}`), checked against the typed configs before anything runs.

An override is part of a run's identity: the run gets a variant named after a hash of its overrides, so its
result never replaces the default run's (and reports of the default runs leave it out), and every overridden
field records where its value came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import UsageError
from benchmark.grid.hyperparams import resolve

Override = tuple[str, str, Any]  # (component, field, value)


def parse_set(items: list[str]) -> list[Override]:
    """`component.field=value`, the value read as YAML (0.001, true, [256, 256], a string); a field of a nested
    config as `component.field.part=value` (`world_model.sampler.steps=5`)."""
    overrides = []
    for item in items:
        key, sep, text = item.partition("=")
        component, *path = key.split(".")
        if not (sep and component and path and all(path)):
            raise UsageError(f"--set {item!r}: write component.field=value, e.g. --set agent.tau=0.001")
        value = yaml.safe_load(text)
        for part in reversed(path[1:]):
            value = {part: value}
        overrides.append((component, path[0], value))
    return overrides


def read_config(path: Path) -> list[Override]:
    """A YAML file of {component: {field: value}}."""
    try:
        content = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"--config {path}: cannot be read as YAML ({error})") from None
    if not isinstance(content, dict) or not all(isinstance(v, dict) for v in content.values()):
        raise UsageError(f"--config {path}: expected a mapping of components to mappings of fields, "
                         f"e.g. 'agent: {{tau: 0.001}}'")
    return [(component, name, value) for component, fields in content.items() for name, value in fields.items()]


def _coerce(value: Any, default: Any, where: str) -> Any:
    """The value in the field's type (a YAML int for a float field is fine; a list for a tuple field too; a
    mapping of some of its fields for a nested config, the others kept)."""
    if dataclasses.is_dataclass(default):
        if not isinstance(value, dict):
            raise UsageError(f"{where}: {value!r} is not a mapping of {type(default).__name__}'s fields, "
                             f"e.g. {where}.{dataclasses.fields(default)[0].name}=...")
        if unknown := sorted(set(value) - {f.name for f in dataclasses.fields(default)}):
            raise _no_field(where, default, unknown[0])
        return dataclasses.replace(default, **{name: _coerce(part, getattr(default, name), f"{where}.{name}")
                                               for name, part in value.items()})
    if isinstance(default, bool) or default is None:
        ok = isinstance(value, bool) or default is None
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            isinstance(default, float) or float(value).is_integer())
        value = type(default)(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple))
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UsageError(f"{where}: {value!r} is not a {type(default).__name__} like the default {default!r}")
    return value


def validate(overrides: list[Override], methods: list[str], task: str) -> tuple[Override, ...]:
    """The overrides with values in their fields' types; an unknown component or field, or a wrong type, is an
    error naming what is valid. Every method of the grid must have the component."""
    resolved = {method: resolve(method, task) for method in methods}
    checked = []
    for component, name, value in _merged(overrides):
        where = f"{component}.{name}"
        for method in methods:
            configs = resolved[method].configs
            if component not in configs:
                raise UsageError(f"{where}: method {method} has no component {component!r}; its components: "
                                 f"{', '.join(configs)}")
            if name not in {f.name for f in dataclasses.fields(configs[component])}:
                raise _no_field(where, configs[component], name)
            coerced = _coerce(value, getattr(configs[component], name), where)
        checked.append((component, name, coerced))
    for method, table in resolved.items():  # the configs' own checks, on the whole new setting (clipping: cdf)
        try:
            table.with_overrides(checked, "")
        except ValueError as error:
            raise UsageError(f"--set for method {method}: {error}") from None
    return tuple(checked)


def _no_field(where: str, config, name: str) -> UsageError:
    fields = ", ".join(f.name for f in dataclasses.fields(config))
    return UsageError(f"{where}: {type(config).__name__} has no field {name!r}; its fields: {fields}")


def _merged(overrides: list[Override]) -> list[Override]:
    """One override per field, the last value winning; parts of one nested field (`sampler.steps`,
    `sampler.guidance`) merged into one mapping."""
    merged: dict[tuple[str, str], Any] = {}
    for component, name, value in overrides:
        earlier = merged.get((component, name))
        merged[component, name] = earlier | value if isinstance(earlier, dict) and isinstance(value, dict) else value
    return [(component, name, value) for (component, name), value in merged.items()]


def variant_name(overrides: tuple[Override, ...]) -> str:
    """`set-` and a hash of the sorted overrides: stable, path-safe, different for different overrides."""
    text = json.dumps(sorted([c, n, v] for c, n, v in overrides), default=str)
    return "set-" + hashlib.sha256(text.encode()).hexdigest()[:8]
