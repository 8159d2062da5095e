"""pn.save / pn.load: safetensors round trips, atomic writes, and corrupt, truncated or lying files."""
from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import pytest

import pyneural as pn
import pyneural.io as pio


def _equal(a, b):
    """Deep equality of loaded structures: same types, same values, arrays bit for bit."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, pn.Tensor):
        _equal(a.data, b.data)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_flat_state_dict_round_trip(tmp_path, rng):
    state = {
        "layer.weight": pn.tensor(rng.standard_normal((3, 5)).astype(np.float32)),
        "layer.bias": pn.tensor(rng.standard_normal(5)),
        "bn.num_batches_tracked": pn.tensor(np.array(7, np.int64)),
        "mask": np.array([True, False, True]),
        "empty": np.zeros((0, 4), np.float32),
        "bytes": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "half": np.linspace(0, 1, 5).astype(np.float16),
        "strided": rng.standard_normal((4, 6))[:, ::2],  # saved contiguous
    }
    pn.save(state, tmp_path / "model.safetensors")
    loaded = pn.load(str(tmp_path / "model.safetensors"))
    _equal(loaded, state)
    loaded["layer.bias"].data[0] = 1.0  # loaded arrays are writeable


def test_flat_state_dict_is_plain_safetensors(tmp_path):
    """Other safetensors readers see the names as they are."""
    from safetensors.numpy import load_file

    pn.save({"fc.weight": pn.tensor(np.ones((2, 2), np.float32))}, tmp_path / "m.safetensors")
    other = load_file(str(tmp_path / "m.safetensors"))
    assert list(other) == ["fc.weight"]
    np.testing.assert_array_equal(other["fc.weight"], np.ones((2, 2), np.float32))


def test_foreign_file_loads_as_flat_tensors(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.arange(3.0), "b.c": np.ones(2, np.float32)}, str(tmp_path / "f.safetensors"))
    loaded = pn.load(tmp_path / "f.safetensors")
    assert set(loaded) == {"a", "b.c"} and all(isinstance(v, pn.Tensor) for v in loaded.values())
    np.testing.assert_array_equal(loaded["a"].data, np.arange(3.0))


def test_nested_structure_round_trip(tmp_path):
    checkpoint = {
        "state": {0: {"step": 3, "exp_avg": pn.tensor(np.ones(3))}, 1: {"step": 3, "exp_avg": pn.tensor(np.ones(2))}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "name": None, "nesterov": False}],
        "epoch": 5,
        "history": [1.5, float("inf"), float("-inf"), float("nan")],
        "array": np.float32(2.5),
        "empty": {},
    }
    pn.save(checkpoint, tmp_path / "ckpt.safetensors")
    loaded = pn.load(tmp_path / "ckpt.safetensors")
    expected = dict(checkpoint, array=2.5)
    _equal(loaded, expected)
    assert list(loaded["state"]) == [0, 1]  # int keys stay ints


def test_save_rejects_what_it_cannot_store(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="expected a dict"):
        pn.save([np.ones(2)], path)
    with pytest.raises(TypeError, match="set"):
        pn.save({"s": {1, 2}}, path)
    with pytest.raises(TypeError, match="dtype object"):
        pn.save({"o": np.array([None, 1])}, path)
    with pytest.raises(TypeError, match="dtype complex128"):
        pn.save({"c": np.ones(2, complex)}, path)
    with pytest.raises(TypeError, match="keys must be str or int"):
        pn.save({(1, 2): np.ones(2)}, path)
    with pytest.raises(ValueError, match="'a.b'"):
        pn.save({"a.b": np.ones(2), "a": {"b": np.zeros(2)}}, path)
    assert not os.listdir(tmp_path)


def _old_and_new(tmp_path):
    path = tmp_path / "model.safetensors"
    old = {"w": pn.tensor(np.arange(1000.0))}
    pn.save(old, path)
    return path, old, {"w": pn.tensor(-np.arange(1000.0)), "extra": pn.tensor(np.ones(10))}


def test_crash_mid_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path, old, new = _old_and_new(tmp_path)
    original = path.read_bytes()

    def crash_halfway(file, data):
        file.write(bytes(data)[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pio, "_write_bytes", crash_halfway)
    with pytest.raises(OSError, match="simulated"):
        pn.save(new, path)
    assert path.read_bytes() == original
    _equal(pn.load(path), old)
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary file left behind


def test_crash_before_rename_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path, old, new = _old_and_new(tmp_path)

    def failing_fsync(fd):
        raise OSError("power cut (simulated)")

    monkeypatch.setattr(pio.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated"):
        pn.save(new, path)
    monkeypatch.undo()
    _equal(pn.load(path), old)
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_save_replaces_the_file(tmp_path):
    path, old, new = _old_and_new(tmp_path)
    os.chmod(path, 0o640)
    pn.save(new, path)
    _equal(pn.load(path), new)
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert os.stat(path).st_mode & 0o777 == 0o640  # the old file's permissions are kept


def test_new_file_gets_the_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        pn.save({"w": np.ones(2)}, tmp_path / "new.safetensors")
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "new.safetensors").st_mode & 0o777 == 0o644


# ----------------------------------------------------------------------- corrupt files

def _file(tmp_path, header: dict | bytes, payload: bytes, length: int | None = None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + payload)
    return path


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize("header,payload,length,message", [
    ("empty", b"", None, "truncated"),
    ("4 bytes", b"", None, "truncated"),
    (b"", b"", None, "not JSON"),
    ({"a": _entry()}, bytes(8), 10**6, "runs past the end of the file"),
    (b"{not json", b"", None, "not JSON"),
    (b"\xff\xfe", b"", None, "not JSON"),
    (b"[1, 2]", b"", None, "not a JSON object"),
    ({"a": _entry(offsets=(0, 16))}, bytes(8), None, "outside the 8 bytes"),
    ({"a": _entry(offsets=(8, 4))}, bytes(8), None, "outside"),
    ({"a": _entry(shape=(3,))}, bytes(8), None, "need 12 bytes, data_offsets give 8"),
    ({"a": _entry(dtype="F64")}, bytes(8), None, "need 16 bytes"),
    ({"a": _entry(dtype="X9")}, bytes(8), None, "unknown dtype"),
    ({"a": _entry(shape=(-2,))}, bytes(8), None, "invalid shape"),
    ({"a": _entry(offsets=(0,))}, bytes(8), None, "invalid data_offsets"),
    ({"a": {"dtype": "F32"}}, bytes(8), None, "lacks"),
    ({"a": _entry(), "b": _entry()}, bytes(8), None, "overlapping"),
    ({"a": _entry()}, bytes(12), None, "cover 8 bytes of data, the file holds 12"),
    ({"__metadata__": {"x": 1}}, b"", None, "__metadata__"),
])
def test_corrupt_files_raise_value_error_naming_the_path(tmp_path, header, payload, length, message):
    if isinstance(header, str):  # not even the 8-byte header length
        path = tmp_path / "bad.safetensors"
        path.write_bytes(b"" if header == "empty" else b"\x01\x02\x03\x04")
    else:
        path = _file(tmp_path, header, payload, length)
    with pytest.raises(ValueError, match=message) as info:
        pn.load(path)
    assert str(path) in str(info.value)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    pn.save({"w": pn.tensor(np.arange(100.0))}, path)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 12, 3):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a valid safetensors file"):
            pn.load(path)


def test_lying_structure_metadata(tmp_path):
    structure = json.dumps({"dict": [["w", {"tensor": "missing", "kind": "tensor"}]]})
    path = _file(tmp_path, {"__metadata__": {"format": "pyneural", "pyneural.structure": structure},
                            "w": _entry()}, bytes(8))
    with pytest.raises(ValueError, match="refers to a tensor 'missing'"):
        pn.load(path)
    path = _file(tmp_path, {"__metadata__": {"format": "pyneural", "pyneural.structure": "{oops"}}, b"")
    with pytest.raises(ValueError, match="structure is not JSON"):
        pn.load(path)
    path = _file(tmp_path, {"__metadata__": {"format": "pyneural", "pyneural.structure": '{"list": []}'}}, b"")
    with pytest.raises(ValueError, match="top level is not a dict"):
        pn.load(path)


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is a text file and not a checkpoint at all")
    with pytest.raises(ValueError, match="notes.txt"):
        pn.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        pn.load(tmp_path / "nothing.safetensors")
