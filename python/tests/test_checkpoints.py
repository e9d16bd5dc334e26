"""Tests of synthetic_gymnax_swift.checkpoints (plain numpy; no JAX needed)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import os
import pickle
import struct
import sys

import numpy as np
import pytest

_PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)

from synthetic_gymnax_swift import checkpoints as ck  # noqa: E402
from synthetic_gymnax_swift.checkpoints import (  # noqa: E402
    CheckpointError,
    read_safetensors,
    write_safetensors,
)


def _paper_installed() -> bool:
    try:
        ck._package_dir()
        return True
    except CheckpointError:
        return False


needs_paper = pytest.mark.skipif(
    not _paper_installed(),
    reason="synthetic-gymnax (the paper's checkpoints) is not installed: "
    "pip install synthetic-gymnax --no-deps",
)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "reward.Dense_1.kernel": rng.normal(size=(32, 1)).astype(np.float32),
        "initial_state.Dense_0.kernel": rng.normal(size=(4, 32)).astype(np.float32),
        "initial_state.Dense_0.bias": rng.normal(size=(32,)).astype(np.float32),
        "scalar": np.float32(3.5),
        "empty": np.zeros((0, 3), np.float32),
        "from_float64": np.array([0.1, -2.0, np.inf, -0.0]),
    }
    meta = {"format": ck.FORMAT, "env_id": "CartPole-v1", "note": "ünïcode"}
    path = tmp_path / "x.safetensors"
    write_safetensors(path, tensors, meta)

    got, got_meta = read_safetensors(path)
    assert got_meta == meta
    assert list(got) == sorted(tensors)
    for name, arr in tensors.items():
        want = np.asarray(arr, np.float32)
        assert got[name].dtype == np.float32
        assert got[name].shape == want.shape
        np.testing.assert_array_equal(got[name], want)

    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, "data must start 8-byte aligned"
    head = raw[8 : 8 + n]
    assert head.rstrip(b" ") == head.rstrip(b" ").strip() and head.startswith(b"{")
    header = json.loads(head)
    assert header["__metadata__"] == meta
    tensor_names = [k for k in header if k != "__metadata__"]
    assert tensor_names == sorted(tensor_names)
    # data laid out in name order, contiguous, little-endian
    pos = 0
    for name in tensor_names:
        info = header[name]
        assert info["dtype"] == "F32"
        assert info["data_offsets"][0] == pos
        pos = info["data_offsets"][1]
        chunk = raw[8 + n + info["data_offsets"][0] : 8 + n + info["data_offsets"][1]]
        np.testing.assert_array_equal(
            np.frombuffer(chunk, "<f4").reshape(info["shape"]), np.asarray(tensors[name], np.float32)
        )
    assert 8 + n + pos == len(raw)


def test_round_trip_no_metadata(tmp_path):
    path = tmp_path / "y.safetensors"
    write_safetensors(path, {"a": np.ones((2, 2), np.float32)}, {})
    tensors, meta = read_safetensors(path)
    assert meta == {}
    np.testing.assert_array_equal(tensors["a"], np.ones((2, 2)))


def test_write_rejects_non_string_metadata(tmp_path):
    with pytest.raises(CheckpointError, match="metadata"):
        write_safetensors(tmp_path / "z.safetensors", {"a": np.ones(1)}, {"n": 1})


def _raw_file(path, header, data=b"", header_len=None):
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    n = len(head) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + head + data)
    return path


def _good_header():
    return {
        "__metadata__": {"format": ck.FORMAT},
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [1, 3], "data_offsets": [8, 20]},
    }


_DATA = np.arange(5, dtype="<f4").tobytes()


def test_crafted_good_file_reads(tmp_path):
    tensors, meta = read_safetensors(_raw_file(tmp_path / "g.st", _good_header(), _DATA))
    np.testing.assert_array_equal(tensors["a"], [0, 1])
    np.testing.assert_array_equal(tensors["b"], [[2, 3, 4]])


def _expect_error(path, *fragments):
    with pytest.raises(CheckpointError) as ei:
        read_safetensors(path)
    msg = str(ei.value)
    assert str(path) in msg, f"message does not name the file: {msg}"
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    assert isinstance(ei.value, ValueError)
    return msg


def test_error_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.safetensors", "cannot read")


@pytest.mark.parametrize("size", [0, 1, 7])
def test_error_truncated_before_header_length(tmp_path, size):
    p = tmp_path / "t.st"
    p.write_bytes(b"\x10" * size)
    _expect_error(p, "truncated")


def test_error_header_length_beyond_file(tmp_path):
    p = _raw_file(tmp_path / "h.st", _good_header(), _DATA, header_len=10_000)
    _expect_error(p, "header length 10000", "beyond the file")


def test_error_header_length_absurd(tmp_path):
    p = tmp_path / "h2.st"
    p.write_bytes(struct.pack("<Q", 2**63) + b"{}      ")
    _expect_error(p, "header length")


def test_error_truncated_data(tmp_path):
    p = _raw_file(tmp_path / "td.st", _good_header(), _DATA[:-4])
    _expect_error(p, "out of range")


@pytest.mark.parametrize(
    "head", [b"{not json", b"\xff\xfe{}", b"[1, 2]", b'{"a": 1}', b'{"__metadata__": {"k": 1}}']
)
def test_error_bad_json(tmp_path, head):
    p = _raw_file(tmp_path / "j.st", head, b"")
    _expect_error(p, "header")


def test_error_bad_json_message(tmp_path):
    p = _raw_file(tmp_path / "j2.st", b'{"a": {"dtype": ', b"")
    _expect_error(p, "bad JSON")


@pytest.mark.parametrize("dtype", ["F64", "F16", "BF16", "I32", "U8", "BOOL"])
def test_error_wrong_dtype(tmp_path, dtype):
    h = _good_header()
    h["b"]["dtype"] = dtype
    p = _raw_file(tmp_path / "d.st", h, _DATA)
    _expect_error(p, repr(dtype), "F32")


@pytest.mark.parametrize(
    "a_offs,b_offs,fragment",
    [
        ([0, 8], [8, 24], "out of range"),  # end beyond the data section
        ([-4, 4], [8, 20], "out of range"),  # negative
        ([8, 0], [8, 20], "out of range"),  # end < begin
        ([0, 8], [4, 16], "overlap"),  # b starts inside a
        ([0, 8], [8, 16], "span"),  # shape [1,3] needs 12 bytes
        ([0, 8], [0, 12], "overlap"),  # same start
        ([0, 12], [8, 20], "span"),  # a: 12 bytes for shape [2]
        ([0, 8], [12, 24], "out of range"),
        ([4, 12], [12, 24], "out of range"),
        ([0, "8"], [8, 20], "invalid data_offsets"),
        ([0], [8, 20], "invalid data_offsets"),
    ],
)
def test_error_bad_offsets(tmp_path, a_offs, b_offs, fragment):
    h = _good_header()
    h["a"]["data_offsets"] = a_offs
    h["b"]["data_offsets"] = b_offs
    p = _raw_file(tmp_path / "o.st", h, _DATA)
    _expect_error(p, fragment)


def test_error_overlap_with_consistent_sizes(tmp_path):
    h = _good_header()
    h["b"] = {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}
    p = _raw_file(tmp_path / "ov.st", h, _DATA[:12])
    _expect_error(p, "overlap")


def test_error_gap_and_trailing_bytes(tmp_path):
    h = _good_header()
    h["b"]["data_offsets"] = [12, 24]
    _expect_error(_raw_file(tmp_path / "gap.st", h, _DATA + b"\0" * 4), "gap")
    _expect_error(_raw_file(tmp_path / "tr.st", _good_header(), _DATA + b"\0" * 8), "trailing")


def test_error_bad_shape_and_missing_fields(tmp_path):
    h = _good_header()
    h["a"]["shape"] = [-2]
    _expect_error(_raw_file(tmp_path / "s.st", h, _DATA), "invalid shape")
    h = _good_header()
    del h["a"]["dtype"]
    _expect_error(_raw_file(tmp_path / "m.st", h, _DATA), "lacks dtype")


# ---------------------------------------------------------------------------
# The paper's pickles
# ---------------------------------------------------------------------------


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_unpickler_refuses_malicious_global(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"params": _Evil(marker)}))
    with pytest.raises(CheckpointError, match="refusing to unpickle global") as ei:
        ck.load_paper_pickle(p)
    assert str(p) in str(ei.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name",
    [("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen"), ("jax._src.array", "ArrayImpl")],
)
def test_unpickler_refuses_other_globals(tmp_path, module, name):
    # protocol-0 GLOBAL opcode naming the callable, then REDUCE with ()
    p = tmp_path / "g.pkl"
    p.write_bytes(f"c{module}\n{name}\n)R.".encode())
    with pytest.raises(CheckpointError, match=f"{module}.{name}"):
        ck.load_paper_pickle(p)


def test_unpickler_rejects_non_array_leaves(tmp_path):
    p = tmp_path / "list.pkl"
    p.write_bytes(pickle.dumps({"params": {"w": [1.0, 2.0]}}))
    with pytest.raises(CheckpointError, match="expected dicts of float32 arrays"):
        ck.load_paper_pickle(p)
    p.write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="malformed pickle"):
        ck.load_paper_pickle(p)


def test_unpickler_reads_plain_numpy_pickle(tmp_path):
    # numpy arrays pickled by numpy itself go through the allowed reconstructor
    p = tmp_path / "np.pkl"
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    p.write_bytes(pickle.dumps({"params": {"x": {"kernel": a}}}))
    got = ck.load_paper_pickle(p)
    np.testing.assert_array_equal(got["params"]["x"]["kernel"], a)


# (real id, obs size, action width fed to the networks)
PAPER_CASES = [("CartPole-v1", 4, 2), ("Pendulum-v1", 3, 1), ("hopper", 11, 3)]


@needs_paper
@pytest.mark.parametrize("env_id,obs,act", PAPER_CASES)
def test_convert_paper_checkpoint(tmp_path, env_id, obs, act):
    out = tmp_path / f"{env_id}.safetensors"
    ck.convert_paper_checkpoint(env_id, out)
    tensors, meta = read_safetensors(out)
    assert meta == {
        "format": "synthetic-gymnax-swift/1",
        "env_id": env_id,
        "features": "32",
        "activation": "relu",
        "latent_dist": "normal",
        "latent_size": str(obs),
        "max_steps_in_episode": "1",
        "source": "paper (synthetic-gymnax 0.0.1)",
    }
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    assert shapes == {
        "initial_state.Dense_0.kernel": [obs, 32],
        "initial_state.Dense_0.bias": [32],
        "initial_state.Dense_1.kernel": [32, obs],
        "initial_state.Dense_1.bias": [obs],
        "reward.Dense_0.kernel": [obs + act, 32],
        "reward.Dense_0.bias": [32],
        "reward.Dense_1.kernel": [32, 1],
        "reward.Dense_1.bias": [1],
    }
    params = ck.load_paper_pickle(ck.paper_pickle_path(env_id))["params"]
    for name, arr in tensors.items():
        net, layer, leaf = name.split(".")
        np.testing.assert_array_equal(arr, params[net][layer][leaf])
        assert np.all(np.isfinite(arr))


@needs_paper
def test_paper_pickle_values_are_the_stored_bytes():
    # cartpole reward.Dense_1.bias is stored as the 4 bytes b'z\x1d\xa2>'
    params = ck.load_paper_pickle(ck.paper_pickle_path("Synthetic-CartPole-v1"))["params"]
    want = struct.unpack("<f", b"z\x1d\xa2>")[0]
    assert params["reward"]["Dense_1"]["bias"].tolist() == [want]


@needs_paper
def test_paper_checkpoint_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("SGX_CACHE_DIR", str(tmp_path))
    p = ck.paper_checkpoint("Pendulum-v1")
    assert p == str(tmp_path / "paper" / "Pendulum-v1.safetensors")
    st = os.stat(p)
    assert ck.paper_checkpoint("Synthetic-Pendulum-v1") == p
    assert os.stat(p).st_mtime_ns == st.st_mtime_ns and os.stat(p).st_ino == st.st_ino
    assert [f for f in os.listdir(tmp_path / "paper")] == ["Pendulum-v1.safetensors"]
    # a corrupt cached file is replaced
    with open(p, "wb") as f:
        f.write(b"junk")
    assert ck.paper_checkpoint("Pendulum-v1") == p
    assert read_safetensors(p)[1]["env_id"] == "Pendulum-v1"


def test_unknown_env_id():
    with pytest.raises(CheckpointError, match="no paper checkpoint"):
        ck.paper_checkpoint("Breakout-MinAtar")


def test_not_installed_message(monkeypatch, tmp_path):
    monkeypatch.setenv("SGX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_dist)
    with pytest.raises(ck.PaperCheckpointsNotInstalled, match="pip install synthetic-gymnax --no-deps"):
        ck.paper_checkpoint("CartPole-v1")


@needs_paper
def test_conversion_does_not_import_jax(tmp_path):
    import subprocess

    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from synthetic_gymnax_swift import checkpoints as c;"
        "c.convert_paper_checkpoint('hopper', sys.argv[2]);"
        "bad = [m for m in ('jax', 'flax', 'brax', 'synthetic_gymnax') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code, _PYTHON_DIR, str(tmp_path / "h.safetensors")],
                   check=True)


@needs_paper
def test_cli(tmp_path, capsys):
    assert ck.main(["convert-paper", "--env", "CartPole-v1", "--env", "hopper",
                    "--out", str(tmp_path)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["CartPole-v1.safetensors", "hopper.safetensors"]
    assert ck.main(["inspect", str(tmp_path / "hopper.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "env_id: hopper" in out and "reward.Dense_0.kernel [14, 32]" in out
    assert ck.main(["inspect", str(tmp_path / "missing.safetensors")]) == 1
