"""Reading a config: YAML files that build on others (`base:`), several files merged left to right, then
dotted command-line overrides, validated once into a Config.

Each key remembers the file that set it last, so an error in a base file names that file, not only the
one the user asked for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from pipeline.config.errors import ConfigError, one_line
from pipeline.config.sections import DEFAULT_MODEL_KIND, MODEL_KINDS, Config

log = logging.getLogger(__name__)

Key = tuple[str, ...]


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off as booleans, which turns
    Norwegian's language code `no` into False in `data.languages: [da, no]`."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_config(
    paths: str | Path | Sequence[str | Path] | None = None,
    overrides: Sequence[str] = (),
    then: Sequence[str] = (),
) -> Config:
    """Read YAML configs (the built-in defaults when there are none), later files over earlier ones, then
    apply dotted overrides, then `then`: a last layer of overrides over all the others, so a `model.kind` there
    switches the kind of the config as overridden (the comparison tool's kinds over a user's overrides).

    run_name defaults to the last named file's stem, so configs/sib200-topic.yaml writes its outputs under
    .../sib200-topic/ without repeating itself, and a file that builds on it through `base:` still gets a
    name of its own.
    """
    named = [Path(p) for p in ([] if paths is None else [paths] if isinstance(paths, (str, Path)) else paths)]
    where = " + ".join(map(str, named)) or "defaults"
    layers = _Layers()
    if named:
        layers.add({"run_name": named[-1].stem}, str(named[-1]))
    for path in named:
        for source, tree in _with_bases(path):
            layers.add(tree, str(source))
    for layer in (overrides, then):
        overridden: dict[str, Any] = {}
        for override in layer:
            _apply_override(overridden, override)
        layers.add(overridden, None)
    try:
        return Config.model_validate(layers.tree)
    except ValidationError as err:
        raise ConfigError(one_line(err, Config, lambda error: layers.place(error, named, where))) from None


def save_config(cfg: Config, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")


@dataclass
class _Layers:
    """Config trees merged in order (a mapping merges key by key, any other value replaces, lists too),
    with the source that set each key last: a file, or None for the command line."""

    tree: dict[str, Any] = field(default_factory=dict)
    origin: dict[Key, str | None] = field(default_factory=dict)

    def add(self, tree: dict[str, Any], source: str | None) -> None:
        self._switch_model_kind(tree)
        self.tree = self._merge(self.tree, tree, source, ())

    def _switch_model_kind(self, tree: dict[str, Any]) -> None:
        """A layer that sets another model.kind (an override, or a file over its base) switches the model: of the
        earlier layers' model keys it keeps those the new kind reads, so `model.kind=textcnn` over the transformer's
        config keeps its sizes and drops its attention heads. A key the new kind lacks, set in the same layer as
        the kind, is still an error."""
        model, earlier = tree.get("model"), self.tree.get("model")
        if not isinstance(model, dict) or not isinstance(earlier, dict) or "kind" not in model:
            return
        kind, old = model["kind"], earlier.get("kind", DEFAULT_MODEL_KIND)
        member = MODEL_KINDS.get(kind) if isinstance(kind, str) else None
        if member is None or kind == old:
            return  # an unknown kind is validation's to report
        dropped = sorted(key for key in earlier if key not in member.model_fields)
        if dropped:
            log.info("model.kind=%s does not read model.%s of the layers below: left out", kind, ", model.".join(dropped))
        kept = {k: v for k, v in earlier.items() if k in member.model_fields}
        # the old kind's default tokenizer algorithm (a saved config writes it out) is not a choice for the new kind
        tokenizer, old_member = kept.get("tokenizer"), MODEL_KINDS.get(old) if isinstance(old, str) else None
        default = getattr(old_member, "default_tokenizer", None)
        if isinstance(tokenizer, dict) and default is not None and tokenizer.get("kind") == default:
            kept["tokenizer"] = {k: v for k, v in tokenizer.items() if k != "kind"}
        self.tree = {**self.tree, "model": kept}

    def _merge(self, base: dict[str, Any], extra: dict[str, Any], source: str | None, prefix: Key) -> dict[str, Any]:
        merged = dict(base)
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = self._merge(merged[key], value, source, (*prefix, key))
            else:
                merged[key] = value
                self._stamp(value, (*prefix, key), source)
        return merged

    def _stamp(self, value: Any, key: Key, source: str | None) -> None:
        self.origin[key] = source
        if isinstance(value, dict):
            for inner, item in value.items():
                self._stamp(item, (*key, inner), source)

    def place(self, error: ErrorDetails, named: list[Path], where: str) -> str:
        """The file to blame for an error: the one that set the key, else (the command line, or a rule
        across keys) the files that were named."""
        loc = error["loc"]
        while loc and isinstance(loc[-1], int):  # a list item: the file that set the list
            loc = loc[:-1]
        source = None if "error" in error.get("ctx", {}) else self.origin.get(tuple(map(str, loc)))
        if source is None or source == where:
            return where
        return source if source in map(str, named) else f"{source} (via {where})"


def _with_bases(path: Path, chain: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """The file's tree, after those of its `base:` chain (deepest first); a base is relative to its includer."""
    if any(path.resolve() == seen.resolve() for seen in chain):
        raise ConfigError(f"{chain[0]}: base: files include each other: {' -> '.join(map(str, (*chain, path)))}")
    tree = _read(path, chain[-1] if chain else None)
    base = tree.pop("base", None)
    if base is None:
        return [(path, tree)]
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must be the path of another YAML file, got {base!r}")
    return [*_with_bases(path.parent / base, (*chain, path)), (path, tree)]


def _read(path: Path, includer: Path | None) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}" + (f" (the base of {includer})" if includer else ""))
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return loaded


def _apply_override(tree: dict[str, Any], override: str) -> None:
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like section.key=value")
    dotted, raw = override.split("=", 1)
    parts = dotted.strip().split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {part} is not a section")
    try:
        node[parts[-1]] = yaml.load(raw, Loader=_Loader) if raw.strip() else None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"override {dotted}: the value {raw!r} is not valid YAML ({problem}); make splits ARGS at spaces, so "
            "write the value without spaces there, or run .venv/bin/pipeline with the whole override quoted"
        ) from None
