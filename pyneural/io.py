"""Checkpoints: ``save(obj, path)`` / ``load(path)`` with the safetensors format (never pickle).

``obj`` is a state dict: a flat mapping ``name -> Tensor/array`` (a module's), or a nested structure
of dicts, lists and tuples with tensors, numbers, strings, booleans and None (an optimizer's or a
scheduler's, a training checkpoint). Tensors are stored under their dotted path (``state.0.exp_avg``;
a flat state dict keeps its names, so other safetensors readers see ``layer.weight`` as it is) and the
rest of the structure as JSON in the file's metadata. A file written by another tool loads as a flat
``name -> Tensor`` dict.

Writes are atomic: the bytes go to a temporary file in the same directory, which is fsync'd and then
renamed over ``path``, so a crash mid-save leaves the previous file whole. Loading checks the header
against the file (sizes, offsets, dtypes, shapes) before reading anything, and reports a corrupt,
truncated or inconsistent file as a ValueError naming it.
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load"]

_STRUCTURE_KEY = "pyneural.structure"
_FORMAT_KEY = "format"
_FORMAT = "pyneural"
_HEADER_LIMIT = 100 * 1024 * 1024  # safetensors' own cap on the JSON header
_ITEM_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
               "I64": 8, "U64": 8, "F64": 8}
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------- saving

def _encode(value: Any, path: str, tensors: dict[str, np.ndarray]) -> Any:
    """The JSON description of ``value``; its arrays are added to ``tensors`` under their dotted path."""
    if isinstance(value, (Tensor, np.ndarray)):
        array = value.data if isinstance(value, Tensor) else value
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise TypeError(f"save: {path or 'the object'} has dtype {array.dtype}, which safetensors cannot store")
        if path in tensors:
            raise ValueError(f"save: two entries are both stored under the name {path!r}")
        tensors[path] = array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
        return {"tensor": path, "kind": "tensor" if isinstance(value, Tensor) else "array"}
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: key {key!r} in {path or 'the object'} is a {type(key).__name__}; "
                                "keys must be str or int")
            items.append([key, _encode(item, f"{path}.{key}" if path else str(key), tensors)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, f"{path}.{i}" if path else str(i), tensors) for i, item in enumerate(value)]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return {"value": value}
    if isinstance(value, float):  # JSON has no inf/nan: store those by name
        return {"value": value} if math.isfinite(value) else {"float": repr(value)}
    raise TypeError(f"save: {path or 'the object'} is a {type(value).__name__}; a checkpoint holds tensors, arrays, "
                    "numbers, strings, booleans, None, and dicts/lists/tuples of them")


def _write_bytes(file, data: bytes) -> None:
    """Write ``data`` to an open binary file (in chunks)."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        file.write(view[start:start + _CHUNK])


def _file_mode(path: str) -> int:
    """Permissions for the new file: the old file's, else what ``open()`` would give (0o666 less the umask).
    (mkstemp creates files readable by their owner only.)"""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    umask = 0o022
    try:
        with open("/proc/self/status") as status:  # reading the umask without setting it (os.umask is racy)
            for line in status:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o666 & ~umask


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a state dict (or any nesting of dicts/lists/tuples of tensors and plain values) to a
    safetensors file at ``path``, atomically."""
    import safetensors.numpy

    path = os.fspath(path)
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (a state dict), got {type(obj).__name__}")
    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, "", tensors)
    metadata = {_FORMAT_KEY: _FORMAT, _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"))}
    data = safetensors.numpy.save(tensors, metadata=metadata)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), _file_mode(path))
            _write_bytes(file, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------------------- loading

def _check_header(path: str, data: bytes) -> dict:
    """The parsed header, after checking it describes the file exactly (else ValueError naming ``path``)."""
    def bad(why: str) -> ValueError:
        return ValueError(f"load: {path!r} is not a valid safetensors file: {why}")

    if len(data) < 8:
        raise bad(f"truncated ({len(data)} bytes; the 8-byte header length is missing)")
    (header_length,) = struct.unpack("<Q", data[:8])
    if header_length > len(data) - 8:
        raise bad(f"the header length {header_length} runs past the end of the file ({len(data)} bytes)")
    if header_length > _HEADER_LIMIT:
        raise bad(f"header of {header_length} bytes")
    try:
        header = json.loads(data[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad("the header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    payload = len(data) - 8 - header_length
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise bad("__metadata__ is not a mapping of strings")
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise bad(f"entry {name!r} lacks dtype, shape or data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _ITEM_SIZES:
            raise bad(f"entry {name!r} has unknown dtype {dtype!r}")
        if (not isinstance(shape, list) or
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise bad(f"entry {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or
                not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise bad(f"entry {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= payload:
            raise bad(f"entry {name!r} has data_offsets [{begin}, {end}] outside the {payload} bytes of data")
        expected = math.prod(shape) * _ITEM_SIZES[dtype]
        if end - begin != expected:
            raise bad(f"entry {name!r}: dtype {dtype} and shape {shape} need {expected} bytes, "
                      f"data_offsets give {end - begin}")
        ranges.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            raise bad(f"entry {name!r} starts at byte {begin} of the data, expected {position} "
                      "(overlapping or missing data)")
        position = end
    if position != payload:
        raise bad(f"the tensors cover {position} bytes of data, the file holds {payload}")
    return header


def _decode(node: Any, tensors: dict[str, np.ndarray], path: str) -> Any:
    def bad(why: str) -> ValueError:
        return ValueError(f"load: {path!r} has inconsistent pyneural metadata: {why}")

    if not isinstance(node, dict) or len(node) not in (1, 2):
        raise bad(f"unexpected node {str(node)[:80]}")
    if "tensor" in node:
        name = node["tensor"]
        if name not in tensors:
            raise bad(f"it refers to a tensor {name!r} the file does not hold")
        array = tensors[name]
        return Tensor(array) if node.get("kind") == "tensor" else array
    if "dict" in node:
        items = node["dict"]
        if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
            raise bad("a dict node is not a list of [key, value] pairs")
        return {key: _decode(value, tensors, path) for key, value in items}
    if "list" in node:
        return [_decode(item, tensors, path) for item in node["list"]]
    if "tuple" in node:
        return tuple(_decode(item, tensors, path) for item in node["tuple"])
    if "value" in node:
        return node["value"]
    if "float" in node and node["float"] in ("inf", "-inf", "nan"):
        return float(node["float"])
    raise bad(f"unexpected node {str(node)[:80]}")


def load(path: str | os.PathLike) -> Any:
    """Load what :func:`save` wrote (tensors come back as Tensors, arrays as arrays); a safetensors file
    from another tool loads as a ``name -> Tensor`` dict."""
    import safetensors.numpy

    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    header = _check_header(path, data)
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as exc:  # SafetensorError: anything our checks did not catch
        raise ValueError(f"load: {path!r} is not a valid safetensors file: {exc}") from None
    tensors = {name: array if array.flags.writeable else array.copy() for name, array in tensors.items()}
    metadata = header.get("__metadata__") or {}
    if metadata.get(_FORMAT_KEY) != _FORMAT or _STRUCTURE_KEY not in metadata:
        return {name: Tensor(array) for name, array in tensors.items()}
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except ValueError:
        raise ValueError(f"load: {path!r} has inconsistent pyneural metadata: the structure is not JSON") from None
    result = _decode(structure, tensors, path)
    if not isinstance(result, dict):
        raise ValueError(f"load: {path!r} has inconsistent pyneural metadata: the top level is not a dict")
    return result
