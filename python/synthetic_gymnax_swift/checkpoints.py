"""Checkpoints of synthetic environments: safetensors I/O and paper conversion.

Plain Python + numpy; no JAX, Flax or ``safetensors`` package needed.

The checkpoint format of this project (read by the Swift library's
``sgx_env_create_from_checkpoint``) is a safetensors file:

* tensors ``<net>.Dense_<k>.kernel`` (float32, shape ``[in, out]``) and
  ``<net>.Dense_<k>.bias`` (``[out]``) for the networks ``initial_state`` and
  ``reward``, plus ``next_state_delta`` and ``done`` when
  ``max_steps_in_episode > 1``;
* metadata (all strings): ``format`` = ``synthetic-gymnax-swift/1``,
  ``env_id`` (the real environment, e.g. ``CartPole-v1``, ``hopper``),
  ``features`` (comma-separated hidden sizes, e.g. ``32``), ``activation``
  (``relu``), ``latent_dist`` (``normal``), ``latent_size`` (e.g. ``4``),
  ``max_steps_in_episode`` (e.g. ``1``), and for checkpoints converted from
  the paper ``source`` = ``paper (synthetic-gymnax 0.0.1)``.

The paper's checkpoints (Liesen et al. 2024) ship inside the
``synthetic-gymnax`` wheel as pickles of Flax FrozenDicts of JAX arrays.
:func:`load_paper_pickle` reads them with a restricted unpickler (no JAX or
Flax import, no arbitrary globals) and :func:`convert_paper_checkpoint` /
:func:`paper_checkpoint` turn them into the format above.

Command line (with ``PYTHONPATH=python``)::

    python3 -m synthetic_gymnax_swift.checkpoints convert-paper --all [--out DIR]
    python3 -m synthetic_gymnax_swift.checkpoints convert-paper --env CartPole-v1
    python3 -m synthetic_gymnax_swift.checkpoints inspect FILE.safetensors
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import pickle
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

# The package's one CheckpointError (a SyntheticGymnaxError and a
# ValueError): what the reader below raises is what the library's calls raise.
from ._native import CheckpointError

__all__ = [
    "CheckpointError",
    "PaperCheckpointsNotInstalled",
    "FORMAT",
    "PAPER_SOURCE",
    "PAPER_ENV_IDS",
    "write_safetensors",
    "read_safetensors",
    "load_paper_pickle",
    "paper_pickle_path",
    "convert_paper_checkpoint",
    "paper_checkpoint",
    "paper_cache_dir",
    "main",
]

FORMAT = "synthetic-gymnax-swift/1"
PAPER_SOURCE = "paper (synthetic-gymnax 0.0.1)"

# Real environment id -> checkpoint folder inside synthetic_gymnax/checkpoints
# (synthetic_gymnax.CHECKPOINT_FOLDERS, copied so that nothing imports JAX).
_CHECKPOINT_FOLDERS = {
    "Acrobot-v1": "acrobot",
    "CartPole-v1": "cartpole",
    "MountainCarContinuous-v0": "continuous_mountaincar",
    "MountainCar-v0": "mountaincar",
    "Pendulum-v1": "pendulum",
    "hopper": "hopper",
    "swimmer": "swimmer",
    "walker2d": "walker2d",
    "halfcheetah": "halfcheetah",
    "humanoidstandup": "humanoidstandup",
}
PAPER_ENV_IDS: Tuple[str, ...] = tuple(_CHECKPOINT_FOLDERS)

# (observation size, width of the action input to the networks): a discrete
# action enters one-hot encoded, so its width is the number of actions.
_ENV_SHAPES = {
    "Acrobot-v1": (6, 3),
    "CartPole-v1": (4, 2),
    "MountainCarContinuous-v0": (2, 1),
    "MountainCar-v0": (2, 3),
    "Pendulum-v1": (3, 1),
    "hopper": (11, 3),
    "swimmer": (8, 2),
    "walker2d": (17, 6),
    "halfcheetah": (17, 6),
    "humanoidstandup": (244, 17),
}

_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's limit


class PaperCheckpointsNotInstalled(CheckpointError):
    """The ``synthetic-gymnax`` package (which ships the paper's checkpoints) is not installed."""


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------


def write_safetensors(
    path: "os.PathLike[str] | str",
    tensors: Mapping[str, np.ndarray],
    metadata: Optional[Mapping[str, str]] = None,
) -> None:
    """Writes float32 ``tensors`` and string ``metadata`` to ``path`` as safetensors.

    The header lists ``__metadata__`` first, then the tensors sorted by name;
    the data follow in the same order, little-endian, without gaps. The
    header is padded with spaces so that the data start at a multiple of 8.
    """
    path = os.fspath(path)
    metadata = dict(metadata or {})
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise CheckpointError(
                f"{path}: metadata must map str to str, got {k!r}: {v!r}"
            )
    header: Dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs: List[bytes] = []
    offset = 0
    for name in sorted(tensors):
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise CheckpointError(f"{path}: invalid tensor name {name!r}")
        arr = np.asarray(tensors[name])
        if arr.dtype.kind not in "fiu" and arr.dtype != np.bool_:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {arr.dtype}, not numeric")
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def read_safetensors(
    path: "os.PathLike[str] | str",
) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Reads a safetensors file of float32 tensors.

    Returns ``(tensors, metadata)``: native-endian float32 numpy arrays by
    name, and the ``__metadata__`` dict (empty if absent). Raises
    :class:`CheckpointError` naming the file and the problem for a truncated
    file, a header length beyond the file, a header that is not valid JSON
    (or not the expected structure), a dtype other than ``F32``, and data
    offsets that are out of range, overlap, leave gaps, or disagree with the
    shape.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read checkpoint: {e}") from e

    def fail(msg: str) -> "CheckpointError":
        return CheckpointError(f"{path}: {msg}")

    if len(raw) < 8:
        raise fail(f"truncated file: {len(raw)} bytes, need at least 8 for the header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _MAX_HEADER_BYTES:
        raise fail(f"header length {n} exceeds the limit of {_MAX_HEADER_BYTES} bytes")
    if 8 + n > len(raw):
        raise fail(
            f"header length {n} goes beyond the file ({len(raw)} bytes; truncated?)"
        )
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"bad JSON header: {e}") from None
    if not isinstance(header, dict):
        raise fail(f"bad JSON header: expected an object, got {type(header).__name__}")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise fail("bad header: __metadata__ must be an object of strings")

    buf = memoryview(raw)[8 + n :]
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise fail(f"bad header: entry for tensor {name!r} is not an object")
        missing = {"dtype", "shape", "data_offsets"} - set(info)
        if missing:
            raise fail(f"bad header: tensor {name!r} lacks {', '.join(sorted(missing))}")
        dtype = info["dtype"]
        if dtype != "F32":
            raise fail(f"tensor {name!r} has dtype {dtype!r}; only F32 is supported")
        shape = info["shape"]
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise fail(f"tensor {name!r} has an invalid shape {shape!r}")
        offs = info["data_offsets"]
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
        ):
            raise fail(f"tensor {name!r} has invalid data_offsets {offs!r}")
        begin, end = offs
        if begin < 0 or end < begin or end > len(buf):
            raise fail(
                f"tensor {name!r} data_offsets [{begin}, {end}] out of range "
                f"(data section is {len(buf)} bytes)"
            )
        nbytes = 4 * math.prod(shape)
        if end - begin != nbytes:
            raise fail(
                f"tensor {name!r} data_offsets [{begin}, {end}] span {end - begin} bytes "
                f"but shape {shape} of F32 needs {nbytes}"
            )
        entries.append((begin, end, name, shape))

    entries.sort()
    pos = 0
    prev = None
    for begin, end, name, _ in entries:
        if begin < pos:
            raise fail(f"tensor {name!r} data_offsets overlap those of {prev!r}")
        if begin > pos:
            raise fail(f"gap in the data section before tensor {name!r} (bytes {pos}..{begin})")
        pos, prev = end, name
    if pos != len(buf):
        raise fail(
            f"data section is {len(buf)} bytes but the tensors cover {pos} "
            "(trailing bytes or truncated data)"
        )

    tensors = {}
    for begin, end, name, shape in entries:
        arr = np.frombuffer(buf[begin:end], dtype="<f4").astype(np.float32)
        tensors[name] = arr.reshape(shape)
    return dict(sorted(tensors.items())), dict(metadata)


# ---------------------------------------------------------------------------
# The paper's pickles
# ---------------------------------------------------------------------------


# Bounds on a paper pickle (the published ones are 2-98 KB, 4 levels deep,
# under 100 arrays): checked so that a hostile pickle is a CheckpointError,
# not an exhausted stack, memory or CPU.
_MAX_PICKLE_BYTES = 64 * 1024 * 1024
_MAX_PICKLE_DEPTH = 16
_MAX_PICKLE_NODES = 100_000
_FLOAT_DTYPES = ("f2", "f4", "f8", "<f2", "<f4", "<f8")


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` in a pickle: only ever passed to
    ``_reconstruct`` (as numpy's own pickles do), never called."""

    def __call__(self, *args, **kwargs):
        raise CheckpointError("unsafe pickle: numpy.ndarray called directly")

    def __reduce__(self):
        raise TypeError("not picklable")


_NDARRAY = _NdarrayToken()


def _np_reconstruct(subtype=None, shape=None, dtype=None):
    """numpy's ``_reconstruct(ndarray, (0,), b'b')``, the first half of
    unpickling an array, and nothing else: any other shape would allocate
    memory the pickle does not hold (the second half, ``__setstate__``,
    checks the data's size against the shape)."""
    if subtype is not _NDARRAY or not isinstance(shape, tuple) or shape != (0,):
        raise CheckpointError(f"unsafe pickle: numpy _reconstruct with shape {shape!r} (expected (0,))")
    if dtype not in (b"b", "b"):
        raise CheckpointError(f"unsafe pickle: numpy _reconstruct with dtype {dtype!r} (expected b'b')")
    return np.ndarray((0,), dtype="b")


def _np_dtype(name=None, align=False, copy=False):
    """``numpy.dtype`` for the float types of a checkpoint only."""
    if not isinstance(name, str) or name not in _FLOAT_DTYPES:
        raise CheckpointError(f"pickle holds an array of dtype {name!r}, expected a float type")
    return np.dtype(name, bool(align), bool(copy))


def _frozen_dict(*args, **kwargs):
    # flax FrozenDict.__reduce__ is (FrozenDict, (self.unfreeze(),))
    if len(args) > 1 or any(not isinstance(a, (dict, list, tuple)) for a in args):
        raise CheckpointError("unsafe pickle: FrozenDict of something other than a dict")
    return dict(*args, **kwargs)


def _reconstruct_array(fun, args, arr_state, aval_state):
    # Stand-in for jax._src.array._reconstruct_array: the numpy value only.
    if fun is not _np_reconstruct or not isinstance(args, tuple):
        raise CheckpointError(
            "unsafe pickle: _reconstruct_array called with something other "
            "than numpy's ndarray reconstructor"
        )
    value = fun(*args)
    value.__setstate__(arr_state)  # numpy checks the data against the shape
    dtype = value.dtype
    if dtype.kind != "f" or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize not in (2, 4, 8):
        raise CheckpointError(f"pickle holds an array of dtype {dtype}, expected float")
    return np.asarray(value, dtype=np.float32)


def _allowed_globals():
    return {
        ("flax.core.frozen_dict", "FrozenDict"): _frozen_dict,
        ("jax._src.array", "_reconstruct_array"): _reconstruct_array,
        ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _np_dtype,
    }


class _PaperUnpickler(pickle.Unpickler):
    """Unpickles the paper's checkpoints and nothing else.

    Only the five globals such a pickle references are resolved, and to
    safe stand-ins: Flax's FrozenDict -> dict, JAX's _reconstruct_array ->
    a function returning the numpy array, numpy's ndarray reconstructor
    (only as numpy's own pickles call it: an empty array, filled by
    ``__setstate__``), a token for ndarray that cannot be called, and dtype
    for float types (numpy.core.* is read as numpy._core.*, numpy 2's
    name). Every other global (os.system, builtins.eval, ...) is refused.
    """

    def __init__(self, file, path: str):
        super().__init__(file)
        self._path = path
        self._allowed = _allowed_globals()

    def find_class(self, module, name):
        canonical = module
        if module == "numpy.core" or module.startswith("numpy.core."):
            canonical = "numpy._core" + module[len("numpy.core") :]
        try:
            return self._allowed[(canonical, name)]
        except (KeyError, TypeError):
            raise CheckpointError(
                f"{self._path}: refusing to unpickle global {module}.{name} "
                "(not part of a synthetic-gymnax checkpoint)"
            ) from None

    def persistent_load(self, pid):
        raise CheckpointError(f"{self._path}: refusing persistent id {pid!r}")


def load_paper_pickle(path: "os.PathLike[str] | str") -> Dict[str, Any]:
    """Loads one of the paper's ``checkpoint.pkl`` files safely.

    Returns the nested structure as plain dicts of float32 numpy arrays, as
    stored, e.g. ``{"params": {"initial_state": {"Dense_0": {"kernel": ...,
    "bias": ...}, ...}, "reward": {...}}}``.

    Raises :class:`CheckpointError` for anything else, and for every
    hostile pickle: globals other than the checkpoint's (no code runs),
    a file above 64 MB, a truncated or malformed stream, nesting deeper
    than 16 levels (50,000 levels are no RecursionError), shared or cyclic
    references, more than 100,000 nodes, arrays that declare more data than
    they hold, non-float arrays, non-string keys.
    """
    path = os.fspath(path)
    try:
        size = os.stat(path).st_size
        if size > _MAX_PICKLE_BYTES:
            raise CheckpointError(f"{path}: {size} bytes, more than the {_MAX_PICKLE_BYTES} a checkpoint pickle may have")
        with open(path, "rb") as f:
            obj = _PaperUnpickler(f, path).load()
    except CheckpointError:
        raise
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read pickle: {e}") from e
    except Exception as e:  # malformed pickle stream (RecursionError, MemoryError included)
        raise CheckpointError(f"{path}: malformed pickle: {type(e).__name__}: {e}") from e

    # The tree, checked without recursion: a tree (every container seen
    # once: no cycles, no shared subtrees, which would make a walk
    # exponential), of bounded depth and size, with float32 arrays at the
    # leaves. Only then is it copied (recursively: the depth is bounded).
    seen = set()
    nodes = 0
    stack = [(obj, ())]
    while stack:
        x, parts = stack.pop()
        where = ".".join(parts) or "<root>"
        nodes += 1
        if nodes > _MAX_PICKLE_NODES:
            raise CheckpointError(f"{path}: more than {_MAX_PICKLE_NODES} values (expected a small tree of arrays)")
        if len(parts) > _MAX_PICKLE_DEPTH:
            raise CheckpointError(
                f"{path}: nested deeper than {_MAX_PICKLE_DEPTH} levels at {'.'.join(parts[:4])}... "
                "(expected dicts of float32 arrays a few levels deep)")
        if isinstance(x, dict):
            if id(x) in seen:
                raise CheckpointError(f"{path}: shared or cyclic reference at {where}")
            seen.add(id(x))
            for k, v in x.items():
                if not isinstance(k, str):
                    raise CheckpointError(f"{path}: non-string key {k!r} at {where}")
                stack.append((v, parts + (k,)))
        elif not (isinstance(x, np.ndarray) and x.dtype == np.float32 and parts):
            raise CheckpointError(
                f"{path}: unexpected {type(x).__name__} at {where} (expected dicts of float32 arrays)"
            )

    def copy(d):
        return {k: copy(v) if isinstance(v, dict) else v for k, v in d.items()}

    return copy(obj)


def _normalize_env_id(env_id: str) -> str:
    if env_id.startswith("Synthetic-"):
        env_id = env_id[len("Synthetic-") :]
    if env_id not in _CHECKPOINT_FOLDERS:
        raise CheckpointError(
            f"no paper checkpoint for {env_id!r}; known: {', '.join(PAPER_ENV_IDS)}"
        )
    return env_id


_NOT_INSTALLED = (
    "the paper's checkpoints come with the synthetic-gymnax package, which is not "
    "installed; `pip install synthetic-gymnax --no-deps` installs the paper's "
    "checkpoints (no JAX/brax needed for conversion)"
)


def _package_dir() -> Path:
    """Directory of the installed synthetic_gymnax package, found without importing it."""
    try:
        spec = importlib.util.find_spec("synthetic_gymnax")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if Path(loc, "checkpoints").is_dir():
                return Path(loc)
    try:
        dist = importlib.metadata.distribution("synthetic-gymnax")
        d = Path(str(dist.locate_file("synthetic_gymnax")))
        if Path(d, "checkpoints").is_dir():
            return d
    except importlib.metadata.PackageNotFoundError:
        pass
    raise PaperCheckpointsNotInstalled(_NOT_INSTALLED)


def paper_pickle_path(env_id: str, package_dir: "os.PathLike[str] | str | None" = None) -> Path:
    """Path of the paper's ``checkpoint.pkl`` for ``env_id`` in the installed package."""
    env_id = _normalize_env_id(env_id)
    base = Path(package_dir) if package_dir is not None else _package_dir()
    p = base / "checkpoints" / _CHECKPOINT_FOLDERS[env_id] / "checkpoint.pkl"
    if not p.is_file():
        if package_dir is None:
            raise PaperCheckpointsNotInstalled(f"{p} is missing; {_NOT_INSTALLED}")
        raise CheckpointError(f"{p}: paper checkpoint not found")
    return p


def _mlp_layers(net: Mapping[str, Any], where: str) -> List[Tuple[np.ndarray, np.ndarray]]:
    if not isinstance(net, dict) or not net:
        raise CheckpointError(f"{where}: expected a dict of Dense_<k> layers, got {type(net).__name__}")
    names = sorted(net)
    want = [f"Dense_{k}" for k in range(len(names))]
    if sorted(names, key=lambda s: (len(s), s)) != want:
        raise CheckpointError(f"{where}: layers {names} are not Dense_0..Dense_{len(names) - 1}")
    layers = []
    prev_out = None
    for k in range(len(names)):
        layer = net[f"Dense_{k}"]
        if not isinstance(layer, dict) or set(layer) != {"kernel", "bias"}:
            raise CheckpointError(f"{where}.Dense_{k}: expected exactly kernel and bias")
        w, b = layer["kernel"], layer["bias"]
        if not isinstance(w, np.ndarray) or not isinstance(b, np.ndarray):
            raise CheckpointError(f"{where}.Dense_{k}: kernel and bias must be arrays")
        if w.ndim != 2 or b.ndim != 1 or w.shape[1] != b.shape[0]:
            raise CheckpointError(
                f"{where}.Dense_{k}: kernel {w.shape} and bias {b.shape} do not fit"
            )
        if prev_out is not None and w.shape[0] != prev_out:
            raise CheckpointError(
                f"{where}.Dense_{k}: input size {w.shape[0]} != previous output {prev_out}"
            )
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise CheckpointError(f"{where}.Dense_{k}: non-finite weights")
        prev_out = w.shape[1]
        layers.append((w, b))
    return layers


def convert_paper_checkpoint(
    env_id: str,
    out_path: "os.PathLike[str] | str",
    package_dir: "os.PathLike[str] | str | None" = None,
) -> Dict[str, str]:
    """Converts the paper's checkpoint for ``env_id`` to this project's format.

    ``env_id`` is the real environment ("CartPole-v1", "Pendulum-v1",
    "hopper", ...; a "Synthetic-" prefix is accepted). ``package_dir`` is the
    ``synthetic_gymnax`` package directory (the one holding ``checkpoints/``);
    by default the installed package is located without importing it.
    Returns the metadata written.
    """
    env_id = _normalize_env_id(env_id)
    src = paper_pickle_path(env_id, package_dir)
    tree = load_paper_pickle(src)
    if set(tree) != {"params"} or not isinstance(tree["params"], dict):
        raise CheckpointError(f"{src}: expected a single top-level 'params' collection")
    params = tree["params"]
    nets = set(params)
    if nets != {"initial_state", "reward"}:
        # The published checkpoints are all max_steps_in_episode == 1 (only
        # initial_state and reward are meta-learned); anything else would
        # need the training config to know max_steps_in_episode.
        raise CheckpointError(
            f"{src}: expected networks initial_state and reward, found {sorted(nets)}"
        )
    layers = {net: _mlp_layers(params[net], f"{src}:{net}") for net in sorted(nets)}
    features = {net: [w.shape[1] for w, _ in ls[:-1]] for net, ls in layers.items()}
    if features["initial_state"] != features["reward"] or not features["reward"]:
        raise CheckpointError(f"{src}: networks have different hidden sizes {features}")
    latent_size = layers["initial_state"][0][0].shape[0]
    obs_size = layers["initial_state"][-1][0].shape[1]
    if layers["reward"][-1][0].shape[1] != 1:
        raise CheckpointError(f"{src}: reward network does not output a scalar")
    act_width = layers["reward"][0][0].shape[0] - obs_size
    if (obs_size, act_width) != _ENV_SHAPES[env_id]:
        raise CheckpointError(
            f"{src}: observation/action sizes {(obs_size, act_width)} do not match "
            f"{env_id}'s {_ENV_SHAPES[env_id]}"
        )

    tensors = {}
    for net, ls in layers.items():
        for k, (w, b) in enumerate(ls):
            tensors[f"{net}.Dense_{k}.kernel"] = w
            tensors[f"{net}.Dense_{k}.bias"] = b
    metadata = {
        "format": FORMAT,
        "env_id": env_id,
        "features": ",".join(str(f) for f in features["reward"]),
        "activation": "relu",
        "latent_dist": "normal",
        "latent_size": str(latent_size),
        "max_steps_in_episode": "1",
        "source": PAPER_SOURCE,
    }
    out_path = Path(out_path)
    _atomic_write(out_path, tensors, metadata)
    return metadata


def _atomic_write(out_path: Path, tensors, metadata) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        write_safetensors(tmp, tensors, metadata)
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def paper_cache_dir() -> Path:
    """``$SGX_CACHE_DIR/paper`` if set, else ``~/.cache/synthetic_gymnax_swift/paper``."""
    base = os.environ.get("SGX_CACHE_DIR")
    root = Path(base) if base else Path.home() / ".cache" / "synthetic_gymnax_swift"
    return root / "paper"


def paper_checkpoint(env_id: str) -> str:
    """Path of the paper's checkpoint for ``env_id`` in this project's format.

    Converted once into :func:`paper_cache_dir` (written to a temporary file,
    then renamed) and reused afterwards; a cached file that no longer reads
    as a valid checkpoint of the right environment is converted again.
    Raises :class:`PaperCheckpointsNotInstalled` if synthetic-gymnax is not
    installed (``pip install synthetic-gymnax --no-deps``).
    """
    env_id = _normalize_env_id(env_id)
    out = paper_cache_dir() / f"{env_id}.safetensors"
    if out.is_file():
        try:
            _, meta = read_safetensors(out)
            if meta.get("format") == FORMAT and meta.get("env_id") == env_id:
                return str(out)
        except CheckpointError:
            pass
    convert_paper_checkpoint(env_id, out)
    return str(out)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m synthetic_gymnax_swift.checkpoints",
        description="Checkpoints of synthetic environments.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser(
        "convert-paper",
        help="convert the paper's checkpoints (from the installed synthetic-gymnax package)",
    )
    which = conv.add_mutually_exclusive_group(required=True)
    which.add_argument("--env", action="append", metavar="ID",
                       help=f"environment id (repeatable): {', '.join(PAPER_ENV_IDS)}")
    which.add_argument("--all", action="store_true", help="every published checkpoint")
    conv.add_argument("--out", metavar="DIR",
                      help="write DIR/<id>.safetensors (default: the cache, see paper_cache_dir)")
    conv.add_argument("--package-dir", metavar="DIR",
                      help="synthetic_gymnax package directory (default: the installed one)")
    insp = sub.add_parser("inspect", help="print a safetensors checkpoint's metadata and tensors")
    insp.add_argument("path")
    args = parser.parse_args(argv)

    try:
        if args.command == "convert-paper":
            ids = list(PAPER_ENV_IDS) if args.all else args.env
            for env_id in ids:
                if args.out is None and args.package_dir is None:
                    path = paper_checkpoint(env_id)
                else:
                    env_id = _normalize_env_id(env_id)
                    out_dir = Path(args.out) if args.out else paper_cache_dir()
                    path = out_dir / f"{env_id}.safetensors"
                    convert_paper_checkpoint(env_id, path, package_dir=args.package_dir)
                print(f"{env_id}: {path}")
        elif args.command == "inspect":
            tensors, meta = read_safetensors(args.path)
            for k, v in meta.items():
                print(f"{k}: {v}")
            for name, arr in tensors.items():
                print(f"  {name} {list(arr.shape)}")
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
