"""Safe YAML reading with line numbers, and readable YAML writing.

Suites can come from anyone's pull request, so they are only ever read with
PyYAML's safe loader (no Python tags). Mappings and lists remember the line
they started on so that errors can point at it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import yaml

from promptdrift.core.errors import SuiteError

try:  # libyaml is much faster; fall back to the pure-Python classes
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class LineDict(dict[Any, Any]):
    """A mapping read from YAML that remembers its (1-based) line, and each key's."""

    line: int | None = None
    key_lines: dict[Any, int] | None = None


class LineList(list[Any]):
    """A sequence read from YAML that remembers its (1-based) line."""

    line: int | None = None


class _LineLoader(_Loader):  # type: ignore[misc,valid-type]
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain values", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def line_of(value: Any) -> int | None:
    """The line a YAML mapping or list started on, if it came from a file."""
    return getattr(value, "line", None)


def line_of_key(mapping: Any, key: Any) -> int | None:
    """The line of a key in a YAML mapping (or of the mapping itself)."""
    lines = getattr(mapping, "key_lines", None) or {}
    return lines.get(key) or line_of(mapping)


MAX_ALIASED = 100_000  # values that aliases may add to a file once expanded (docs/security.md)


def _bounded(node: yaml.Node | None, path: str | Path) -> yaml.Node | None:
    """``node``, unless its aliases expand it beyond :data:`MAX_ALIASED` values (an "alias bomb").

    A composed document shares the node of an anchor between its aliases, so nine levels of ten
    aliases are 90 aliases in a 2 KB file, and a billion values to anything that walks it. The
    expanded size is counted once per node (linear in the file), before anything walks it.
    """
    if node is None:
        return None
    sizes: dict[int, int] = {}
    distinct = 0

    def size(current: yaml.Node) -> int:
        nonlocal distinct
        known = sizes.get(id(current))
        if known is not None:
            return known
        distinct += 1
        total = 1
        if isinstance(current, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            total += sum(size(child) for child in current.value)
        sizes[id(current)] = total
        return total

    expanded = size(node)
    if expanded - distinct > MAX_ALIASED:
        raise SuiteError(
            f"invalid YAML: its aliases (*name) expand to {expanded:,} values from {distinct:,} written, more than "
            f"the {MAX_ALIASED:,} aliases may add (an alias bomb?). Write the values out instead of aliasing them",
            path=path,
        )
    return node


def loads(text: str, *, path: str | Path) -> Any:
    """Parse YAML text safely; errors become :class:`SuiteError` naming the file and line."""
    loader = _LineLoader(text)
    try:
        node = _bounded(loader.get_single_node(), path)
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path, text) from None
    except RecursionError:
        raise SuiteError("invalid YAML: nested too deeply", path=path) from None
    finally:
        loader.dispose()


_SCALARS = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"


def _plain(node: yaml.Node) -> Any:
    """Plain data from a composed node: dicts, lists, and scalars by the safe loader's own rules."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR_TAG:
            return node.value
        construct = _SCALARS.yaml_constructors.get(node.tag)
        if construct is None:
            raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)
        return construct(_SCALARS, node)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(None, None, "merge keys are not supported", key.start_mark)
            out[_plain(key)] = _plain(value)
        return out
    return [_plain(item) for item in node.value]


def loads_data(text: str, *, path: str | Path) -> Any:
    """Parse YAML text safely into plain data, about twice as fast as :func:`loads` (no line numbers).

    For files promptdrift writes itself (cassettes): only plain mappings,
    sequences and the safe loader's scalars; anything else is an error.
    """
    try:
        node = _bounded(yaml.compose(text, Loader=_Loader), path)
        return None if node is None else _plain(node)
    except TypeError:  # an unhashable key
        raise SuiteError("invalid YAML: a mapping key is not a plain value", path=path) from None
    except RecursionError:
        raise SuiteError("invalid YAML: nested too deeply", path=path) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path, text) from None


def _yaml_error(exc: yaml.YAMLError, path: str | Path, text: str) -> SuiteError:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow (NUL, other controls)
        at = text[: exc.position].count("\n") + 1
        return SuiteError(f"invalid YAML: character {exc.character!r} is not allowed in YAML", path=path, line=at)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        return SuiteError(f"invalid YAML: {problem}", path=path, line=line)
    return SuiteError(f"invalid YAML: {exc}", path=path)


MAX_SUITE_MB = 16  # the largest suite or fixture file read (docs/security.md)


def read_bounded(path: Path, *, display: str | None = None) -> str:
    """A suite or fixture file's text: a regular file of at most :data:`MAX_SUITE_MB` megabytes, in UTF-8;
    anything else is a :class:`SuiteError` naming it (never a read of ``/dev/zero`` into memory)."""
    shown = display or str(path)
    try:
        if not path.is_file():
            problem = "file not found" if not path.exists() else "not a regular file (a folder or a device)"
            raise SuiteError(problem, path=shown)
        limit = MAX_SUITE_MB * 1024 * 1024
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise SuiteError(f"larger than {MAX_SUITE_MB} MB: not read (split it)", path=shown)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read file: {exc}", path=shown) from None


def load_file(path: Path, *, display: str | None = None) -> Any:
    """Read and parse a YAML file; a missing, unreadable or oversized file is a :class:`SuiteError`."""
    return loads(read_bounded(path, display=display), path=display or str(path))


# Line breaks YAML knows besides \n: a reader turns them into \n (or a space) in every style but double quotes.
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


_OTHER_BREAK = re.compile("[" + "".join(_OTHER_BREAKS) + "]")


def _represent_str(dumper: Any, data: str) -> yaml.ScalarNode:
    """How a string is written: literal block when it has line breaks, escaped when it has other breaks."""
    return yaml.ScalarNode(_STR_TAG, data, style=_str_style(data))


def _str_style(data: str) -> str | None:
    if _OTHER_BREAK.search(data):
        return '"'  # escaped: round-trips exactly
    return "|" if "\n" in data else None


_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_INT_TAG, _BOOL_TAG, _NULL_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_SCALAR_RESOLVER = yaml.resolver.Resolver()  # implicit resolvers are class data, and no path resolver is set
_SCALARS_SEEN: dict[tuple[str, str, str | None], yaml.ScalarEvent] = {}  # short scalars repeat (keys)
_MAP_START = yaml.MappingStartEvent(None, _MAP_TAG, True, flow_style=False)
_MAP_END = yaml.MappingEndEvent()
_SEQ_START = yaml.SequenceStartEvent(None, _SEQ_TAG, True, flow_style=False)
_SEQ_END = yaml.SequenceEndEvent()


def _scalar(tag: str, value: str, style: str | None = None) -> yaml.ScalarEvent:
    """A scalar event, with the implicit flags PyYAML's serializer would work out for its node: whether the
    value reads back as ``tag`` written plain, and quoted. Remembered for short scalars (keys repeat)."""
    key = (tag, value, style)
    event = _SCALARS_SEEN.get(key)
    if event is None:
        plain = _SCALAR_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == tag
        event = yaml.ScalarEvent(None, tag, (plain, tag == _STR_TAG), value, style=style)
        if len(value) <= 64:
            if len(_SCALARS_SEEN) > 4096:
                _SCALARS_SEEN.clear()
            _SCALARS_SEEN[key] = event
    return event


def _events(data: Any, out: list[yaml.Event], dumper: Any) -> None:
    """The events of plain data, built directly: what PyYAML's representer and serializer produce for it,
    without their generic dispatch, alias bookkeeping and a resolver call per scalar (most of the time of
    writing a cassette). Anything else (floats) goes through the safe representer's own rules."""
    kind = type(data)
    if kind is str:
        out.append(_scalar(_STR_TAG, data, _str_style(data)))
    elif kind is dict or kind is LineDict:
        out.append(_MAP_START)
        for key, value in data.items():
            _events(key, out, dumper)
            _events(value, out, dumper)
        out.append(_MAP_END)
    elif kind is list or kind is LineList:
        out.append(_SEQ_START)
        for item in data:
            _events(item, out, dumper)
        out.append(_SEQ_END)
    elif kind is int:
        out.append(_scalar(_INT_TAG, str(data)))
    elif kind is bool:
        out.append(_scalar(_BOOL_TAG, "true" if data else "false"))
    elif data is None:
        out.append(_scalar(_NULL_TAG, "null"))
    else:
        _node_events(dumper.represent_data(data), out)


def _node_events(node: yaml.Node, out: list[yaml.Event]) -> None:
    """The events PyYAML's serializer emits for a node (no anchors: nothing written here is shared)."""
    if isinstance(node, yaml.ScalarNode):
        out.append(_scalar(node.tag, node.value, node.style))
    elif isinstance(node, yaml.MappingNode):
        out.append(yaml.MappingStartEvent(None, node.tag, node.tag == _MAP_TAG, flow_style=node.flow_style))
        for key, value in node.value:
            _node_events(key, out)
            _node_events(value, out)
        out.append(_MAP_END)
    elif isinstance(node, yaml.SequenceNode):
        out.append(yaml.SequenceStartEvent(None, node.tag, node.tag == _SEQ_TAG, flow_style=node.flow_style))
        for item in node.value:
            _node_events(item, out)
        out.append(_SEQ_END)


_OPTIONS: dict[str, Any] = {"default_flow_style": False, "allow_unicode": True, "width": 100, "sort_keys": False}


def _emit(data: Any, dumper_class: type) -> str:
    stream = io.StringIO()
    dumper = dumper_class(stream, **_OPTIONS)
    try:
        events: list[yaml.Event] = [yaml.StreamStartEvent(), yaml.DocumentStartEvent(explicit=False)]
        _events(data, events, dumper)
        events += [yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()]
        for event in events:
            dumper.emit(event)
    finally:
        dumper.dispose()
    return stream.getvalue()


class _ReadableDumper(_Dumper):  # type: ignore[misc,valid-type]
    """Writes multi-line strings as literal blocks so diffs of cassettes read well."""


class _ReadablePyDumper(yaml.SafeDumper):
    """The same in pure Python: libyaml escapes characters beyond the BMP (emoji), this one writes them."""


for _dumper in (_ReadableDumper, _ReadablePyDumper):
    _dumper.add_representer(str, _represent_str)
    _dumper.add_representer(LineDict, yaml.representer.SafeRepresenter.represent_dict)
    _dumper.add_representer(LineList, yaml.representer.SafeRepresenter.represent_list)


def dumps(data: Any) -> str:
    """Dump data as block-style YAML with literal multi-line strings, keys in insertion order.

    libyaml is used for speed; when it had to escape an emoji or another
    character beyond the BMP (``\\U0001F44B``), the slower pure-Python emitter
    writes the text as it is, so answers stay readable in a diff.
    """
    text = _emit(data, _ReadableDumper)
    if "\\U" in text:
        text = _emit(data, _ReadablePyDumper)
    return text
