#!/usr/bin/env python3
"""Checkpoint fuzzer: mutated synthetic-environment checkpoints must be refused
with an error, or loaded exactly as they declare; never kill the process.

Run it (from the repository; CI runs it for 60 s in Tests/run_all.sh):

    python3 Tests/fuzz/fuzz_checkpoints.py                      # 60 s, seed 0
    python3 Tests/fuzz/fuzz_checkpoints.py --seconds 3600 --seed 7  # longer, another stream
    python3 Tests/fuzz/fuzz_checkpoints.py --seed 7 --only 1234 --keep /tmp/m
                                            # one mutant again (saved to /tmp/m), with a backtrace

The library is --lib, else $SGX_LIB, else .build/release/libsynthetic_gymnax.so;
it is copied to a private directory first, so a rebuild during a run cannot
make a false crash. Mutant i of seed s is a function of (s, i) alone: a run is
deterministic for its seed, and --only replays one mutant.

What it does. The valid checkpoints are the committed Checkpoints/*/
checkpoint.safetensors (two networks: max_steps_in_episode 1), two
four-network ones built here from them (next_state_delta and done networks,
max_steps_in_episode 200; one discrete, one continuous), and policy files
(Tests/fuzz/seeds/policy-*.safetensors, trained by the library: every head).
Each mutant is one of the kinds in MUTATORS: bit flips, byte overwrites,
truncations, appended bytes, the 8-byte header length, JSON header edits
(shapes with huge, negative, overflowing, fractional or non-numeric dims,
data_offsets, dtypes, missing, extra, renamed and duplicated tensors,
__metadata__ values such as max_steps_in_episode, latent_size, features and a
policy's sizes set to 2**31, 2**63, -1, 1e308, NaN, strings, deep nesting,
broken JSON syntax), tensor data set to NaN/inf/huge values, valid
re-layouts, whole other valid configurations (any real id, activation, latent
distribution, up to 65 layers, widths and latent sizes up to 2**16 + 1),
sparse files of 64 MB to 1 TB, Unicode-equivalent names, a policy's action box
and normalisation values, and combinations of these.

Each mutant is loaded in a CHILD process (this file with --worker; many
mutants per child, a new child after any death) through the library. A
checkpoint: `_native.NativeEnv(checkpoint=path)` (sgx_env_create_from_checkpoint),
then, when that accepts, sgx_env_save_checkpoint of what was loaded, a
max_steps_in_episode override, `synthetic_gymnax_swift.make("Synthetic-<id>",
checkpoint=path)` with one reset and one step, and a VectorEnvironment of 1 to 130
copies reset and stepped once. A policy: `Policy.load` (sgx_policy_load),
`save`, and deterministic and sampled actions for five observations.

Independently, the parent parses the mutant in pure Python following the
safetensors specification (as the reference `safetensors` implementation
checks it: 8-byte little-endian header size, a UTF-8 JSON object starting with
'{', tensors with a known dtype, unsigned integer shape and data_offsets,
offsets contiguous from 0 to the end of the file, sizes without overflow,
__metadata__ a string-to-string map; a strict JSON parser of our own, so that
Python's json quirks do not decide) and checks that the tensors fit the
checkpoint's declared configuration (the loader's contract in
SyntheticCheckpoint.swift: format, env_id, features, activation, latent_dist,
latent_size, max_steps_in_episode as decimal digits; network names and
shapes; finite float32).

A FAILURE is: a child killed by a signal (SIGILL, SIGABRT, SIGSEGV, SIGBUS,
SIGFPE, ...; the Swift backtrace's function and line are shown) or exiting
abnormally; a mutant taking longer than --timeout (a hang); a mutant ACCEPTED
although it is not a valid safetensors file or does not fit; a checkpoint
accepted whose loaded tensors, configuration or metadata (read back through
sgx_env_save_checkpoint) differ from those the file declares, whose
max_steps_in_episode override is taken although invalid or not as given, or
whose step's reward / next observation / termination (eager and in every
VectorEnvironment copy) differ from a numpy forward pass of the declared networks (with
a float32 rounding-error bound); a policy accepted with sizes that are not
positive integers, tensors it does not use, tensors or metadata it does not
keep, an action box with low > high, or actions outside its action space; an
exception from the Python package that is not its documented error type.
Refusing a valid, fitting mutant within the library's documented bounds is
reported ("refused although valid") but is not a failure, nor is a policy's
ignored, derived metadata (hidden_layer_sizes, action_space).

Exit status 0 when no mutant failed, 1 otherwise; failing mutants are saved
to --keep (default: a temporary directory, printed).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

import numpy as np

sys.set_int_max_str_digits(0)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---------------------------------------------------------------------------
# A strict JSON parser (RFC 8259), iterative (no recursion limit of its own)
# ---------------------------------------------------------------------------

SERDE_DEPTH_LIMIT = 128  # serde_json's, in the reference safetensors reader


class JSONError(ValueError):
    pass


class Raw:
    """A JSON token written as is (for numbers and literals Python cannot express)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"Raw({self.text!r})"


class Pairs(list):
    """A JSON object written with these (key, value) pairs, duplicates allowed."""


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_WS_RUN = re.compile(r"[ \t\n\r]*")
_STR_RUN = re.compile(r'[^"\\\x00-\x1f]*')


def parse_json(text):
    """Returns (value, max_depth, duplicate_keys). Objects are dicts (the last
    of duplicate keys wins, as serde_json's map and Python's json do);
    integers are ints of any size, other numbers floats (JSONError if
    infinite). JSONError for anything RFC 8259 does not allow, including
    lone UTF-16 surrogates in escapes (serde_json refuses them)."""
    pos, n = 0, len(text)
    duplicates = False
    max_depth = 0

    def skip(p):
        return _WS_RUN.match(text, p).end()

    def parse_string(p):
        # text[p] == '"'
        p += 1
        out = []
        start = p
        while True:
            if p >= n:
                raise JSONError("unterminated string")
            c = text[p]
            if c == '"':
                out.append(text[start:p])
                return "".join(out), p + 1
            if c == "\\":
                out.append(text[start:p])
                if p + 1 >= n:
                    raise JSONError("bad escape")
                e = text[p + 1]
                simple = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
                if e in simple:
                    out.append(simple[e])
                    p += 2
                elif e == "u":
                    h = text[p + 2:p + 6]
                    if len(h) != 4 or not all(ch in "0123456789abcdefABCDEF" for ch in h):
                        raise JSONError("bad \\u escape")
                    cp = int(h, 16)
                    p += 6
                    if 0xD800 <= cp < 0xDC00:
                        h2 = text[p + 2:p + 6]
                        if text[p:p + 2] != "\\u" or len(h2) != 4 or not all(
                                ch in "0123456789abcdefABCDEF" for ch in h2):
                            raise JSONError("lone leading surrogate")
                        lo = int(h2, 16)
                        if not 0xDC00 <= lo < 0xE000:
                            raise JSONError("lone leading surrogate")
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        p += 6
                    elif 0xDC00 <= cp < 0xE000:
                        raise JSONError("lone trailing surrogate")
                    out.append(chr(cp))
                else:
                    raise JSONError(f"bad escape \\{e}")
                start = p
                continue
            if ord(c) < 0x20:
                raise JSONError("control character in string")
            p = _STR_RUN.match(text, p).end()

    def parse_scalar(p):
        c = text[p]
        if c == '"':
            return parse_string(p)
        for lit, val in (("true", True), ("false", False), ("null", None)):
            if text.startswith(lit, p):
                return val, p + len(lit)
        m = _NUMBER.match(text, p)
        if m and m.end() > p:
            tok = m.group(0)
            if m.group(1) is None and m.group(2) is None:
                return int(tok), m.end()
            v = float(tok)
            if math.isinf(v):
                raise JSONError(f"number {tok} out of range")
            return v, m.end()
        raise JSONError(f"unexpected character {c!r} at {p}")

    # Explicit stack of containers: (container, pending_key)
    stack = []
    pos = skip(pos)
    if pos >= n:
        raise JSONError("empty")
    root = None
    have_root = False
    while True:
        pos = skip(pos)
        if pos >= n:
            raise JSONError("unexpected end")
        c = text[pos]
        # parse a value starting at pos
        if c == "{" or c == "[":
            container = {} if c == "{" else []
            stack.append([container, None, set()])
            max_depth = max(max_depth, len(stack))
            pos = skip(pos + 1)
            if pos < n and text[pos] == ("}" if c == "{" else "]"):
                pos += 1
                value = stack.pop()[0]
            else:
                if c == "{":
                    if pos >= n or text[pos] != '"':
                        raise JSONError("expected a key")
                    key, pos = parse_string(pos)
                    pos = skip(pos)
                    if pos >= n or text[pos] != ":":
                        raise JSONError("expected ':'")
                    pos += 1
                    stack[-1][1] = key
                continue
        else:
            value, pos = parse_scalar(pos)
        # attach value to the enclosing container, closing as many as end here
        while True:
            if not stack:
                root, have_root = value, True
                break
            top = stack[-1]
            if isinstance(top[0], dict):
                key = top[1]
                if key in top[2]:
                    duplicates = True
                top[2].add(key)
                top[0][key] = value
            else:
                top[0].append(value)
            pos = skip(pos)
            if pos >= n:
                raise JSONError("unexpected end")
            c = text[pos]
            if c == ",":
                pos = skip(pos + 1)
                if isinstance(top[0], dict):
                    if pos >= n or text[pos] != '"':
                        raise JSONError("expected a key")
                    key, pos = parse_string(pos)
                    pos = skip(pos)
                    if pos >= n or text[pos] != ":":
                        raise JSONError("expected ':'")
                    pos += 1
                    top[1] = key
                break  # parse the next value
            closer = "}" if isinstance(top[0], dict) else "]"
            if c != closer:
                raise JSONError(f"expected ',' or {closer!r} at {pos}")
            pos += 1
            value = stack.pop()[0]
        if have_root:
            break
    if skip(pos) != n:
        raise JSONError("trailing characters")
    return root, max_depth, duplicates


def emit_json(value):
    """Serialises Python values, Raw tokens and Pairs (duplicate keys) as JSON text."""
    parts = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Raw):
            parts.append(v.text)
        elif isinstance(v, (dict, Pairs)):
            items = list(v.items()) if isinstance(v, dict) else list(v)
            seq = [Raw("{")]
            for k, (key, val) in enumerate(items):
                if k:
                    seq.append(Raw(","))
                seq.append(Raw(json.dumps(key) + ":"))
                seq.append(val)
            seq.append(Raw("}"))
            stack.extend(reversed(seq))
        elif isinstance(v, list):
            seq = [Raw("[")]
            for k, val in enumerate(v):
                if k:
                    seq.append(Raw(","))
                seq.append(val)
            seq.append(Raw("]"))
            stack.extend(reversed(seq))
        elif v is True:
            parts.append("true")
        elif v is False:
            parts.append("false")
        elif v is None:
            parts.append("null")
        elif isinstance(v, int):
            parts.append(str(v))
        elif isinstance(v, float):
            parts.append(repr(v) if math.isfinite(v) else ("NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")))
        elif isinstance(v, str):
            parts.append(json.dumps(v))
        else:
            raise TypeError(type(v))
    return "".join(parts)


# ---------------------------------------------------------------------------
# The safetensors specification, checked independently of the library
# ---------------------------------------------------------------------------

DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
MAX_HEADER = 100_000_000  # the reference implementation's limit
U64 = 2**64


class Invalid(Exception):
    """Not a valid safetensors file (the reason)."""


def parse_safetensors(data: bytes):
    """Returns dict(tensors={name: (dtype, shape, bytes)}, metadata=dict|None,
    notes=[...]) or raises Invalid. notes lists implementation-defined
    properties under which a reader may refuse (e.g. nesting beyond serde's
    128 levels); they are not failures either way."""
    notes = []
    if len(data) < 8:
        raise Invalid("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise Invalid(f"header size {n} above the 100 MB limit")
    if 8 + n > len(data):
        raise Invalid(f"header size {n} beyond the end of the file")
    try:
        text = data[8:8 + n].decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Invalid("header is not UTF-8") from None
    if not text.startswith("{"):
        raise Invalid("header does not start with '{'")
    try:
        header, depth, duplicates = parse_json(text)
    except JSONError as e:
        raise Invalid(f"header is not JSON: {e}") from None
    if depth > SERDE_DEPTH_LIMIT:
        notes.append(f"nesting depth {depth} > {SERDE_DEPTH_LIMIT}")
    if duplicates:
        notes.append("duplicate keys (the last one counts)")
    if not isinstance(header, dict):
        raise Invalid("header is not an object")
    for obj in (header, header.get("__metadata__")):
        if isinstance(obj, dict) and len({unicodedata.normalize("NFC", k) for k in obj}) < len(obj):
            # Different bytes, hence different names for safetensors, but the same text for
            # Unicode (and for Swift's String): a reader may refuse them as ambiguous.
            notes.append("keys that are canonically equivalent Unicode")
    metadata = None
    tensors = {}
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            if info is None:
                continue
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise Invalid("__metadata__ is not a map of strings")
            metadata = info
            continue
        if not isinstance(info, dict):
            raise Invalid(f"tensor {name!r} is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
            raise Invalid(f"tensor {name!r}: dtype {dtype!r}")

        def is_u64(v):
            return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < U64

        if not isinstance(shape, list) or not all(is_u64(d) for d in shape):
            raise Invalid(f"tensor {name!r}: shape {shape!r}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(is_u64(o) for o in offsets):
            raise Invalid(f"tensor {name!r}: data_offsets {offsets!r}")
        count = 1
        for d in shape:
            count *= d
            if count >= U64:
                raise Invalid(f"tensor {name!r}: shape {shape} overflows")
        nbytes = count * DTYPE_SIZES[dtype]
        if nbytes >= U64:
            raise Invalid(f"tensor {name!r}: byte size overflows")
        entries.append((offsets[0], offsets[1], name, dtype, shape, nbytes))
    entries.sort(key=lambda e: (e[0], e[1]))
    start = 0
    buffer = data[8 + n:]
    for begin, end, name, dtype, shape, nbytes in entries:
        if begin != start or end < begin:
            raise Invalid(f"tensor {name!r}: data_offsets [{begin}, {end}] not contiguous (expected start {start})")
        if end - begin != nbytes:
            raise Invalid(f"tensor {name!r}: {end - begin} bytes for {nbytes}")
        start = end
    if start != len(buffer):
        raise Invalid(f"tensors cover {start} of {len(buffer)} data bytes")
    for begin, end, name, dtype, shape, nbytes in entries:
        tensors[name] = (dtype, tuple(shape), bytes(buffer[begin:end]))
    return {"tensors": tensors, "metadata": metadata, "notes": notes}


# ---------------------------------------------------------------------------
# The loader's contract (SyntheticCheckpoint.swift), checked independently
# ---------------------------------------------------------------------------

FORMAT = "synthetic-gymnax-swift/1"
CONFIG_KEYS = ("format", "env_id", "features", "activation", "latent_dist", "latent_size", "max_steps_in_episode")
ACTIVATIONS = {"relu", "tanh", "sigmoid", "swish", "silu", "elu", "softplus", "identity", "leaky_relu"}
LATENTS = {"normal", "uniform", "categorical", "softmax"}
# (observation size, action input width: the number of actions of a discrete space), and discreteness.
ENV_SHAPES = {
    "Acrobot-v1": (6, 3, True), "CartPole-v1": (4, 2, True), "MountainCar-v0": (2, 3, True),
    "MountainCarContinuous-v0": (2, 1, False), "Pendulum-v1": (3, 1, False),
    "hopper": (11, 3, False), "swimmer": (8, 2, False), "walker2d": (17, 6, False),
    "halfcheetah": (17, 6, False), "humanoidstandup": (244, 17, False),
}


def positive_int(text):
    """The positive integer a metadata string holds (decimal digits only: no
    sign, no spaces, as the loader documents and this project writes them), or None."""
    if not re.fullmatch(r"[0-9]+", text):
        return None
    v = int(text)
    return v if v >= 1 else None


def declared_config(meta):
    """The configuration the metadata declares, or raise Invalid (misfit)."""
    if meta is None:
        raise Invalid("no __metadata__")
    for k in CONFIG_KEYS:
        if k not in meta:
            raise Invalid(f"metadata lacks {k}")
    if meta["format"] != FORMAT:
        raise Invalid(f"format {meta['format']!r}")
    feats = meta["features"].split(",")
    features = [positive_int(f) for f in feats] if meta["features"] != "" else []
    if any(f is None for f in features):
        raise Invalid(f"features {meta['features']!r}")
    if meta["activation"] not in ACTIVATIONS:
        raise Invalid(f"activation {meta['activation']!r}")
    if meta["latent_dist"] not in LATENTS:
        raise Invalid(f"latent_dist {meta['latent_dist']!r}")
    latent = positive_int(meta["latent_size"])
    steps = positive_int(meta["max_steps_in_episode"])
    if latent is None:
        raise Invalid(f"latent_size {meta['latent_size']!r}")
    if steps is None:
        raise Invalid(f"max_steps_in_episode {meta['max_steps_in_episode']!r}")
    return {"env_id": meta["env_id"], "features": features, "activation": meta["activation"],
            "latent_dist": meta["latent_dist"], "latent_size": latent, "max_steps": steps}


def network_shapes(config):
    """{tensor name: shape} the configuration needs, or None for an env_id we have no table for."""
    if config["env_id"] not in ENV_SHAPES:
        return None
    obs, act, _ = ENV_SHAPES[config["env_id"]]
    nets = [("initial_state", config["latent_size"], obs), ("reward", obs + act, 1)]
    if config["max_steps"] != 1:
        nets += [("next_state_delta", obs + act, obs), ("done", obs, 1)]
    out = {}
    for name, i, o in nets:
        widths = [i] + config["features"] + [o]
        for k in range(len(widths) - 1):
            out[f"{name}.Dense_{k}.kernel"] = (widths[k], widths[k + 1])
            out[f"{name}.Dense_{k}.bias"] = (widths[k + 1],)
    return out


def check_fit(parsed):
    """Raises Invalid when the declared tensors do not fit the declared configuration."""
    config = declared_config(parsed["metadata"])
    shapes = network_shapes(config)
    tensors = parsed["tensors"]
    if shapes is None:
        if config["env_id"] not in KNOWN_REAL_IDS:
            raise Invalid(f"env_id {config['env_id']!r} is not a real environment")
        return config  # a real id without a table here: checked only against what is loaded
    for name, shape in shapes.items():
        if name not in tensors:
            raise Invalid(f"missing tensor {name}")
        dtype, got, raw = tensors[name]
        if dtype != "F32":
            raise Invalid(f"tensor {name} has dtype {dtype}")
        if got != shape:
            raise Invalid(f"tensor {name} has shape {list(got)}, needs {list(shape)}")
        if not np.all(np.isfinite(np.frombuffer(raw, "<f4"))):
            raise Invalid(f"tensor {name} has non-finite values")
    extra = sorted(set(tensors) - set(shapes))
    if extra:
        raise Invalid(f"unexpected tensor {extra[0]}")
    return config


KNOWN_REAL_IDS = set(ENV_SHAPES)  # completed from the library's registry at start


# ---------------------------------------------------------------------------
# Writing checkpoints
# ---------------------------------------------------------------------------


def encode(header, data: bytes, pad=True) -> bytes:
    text = emit_json(header).encode("utf-8")
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def layout(tensors, metadata, order=None, meta_first=True):
    """A valid file from {name: (dtype, shape, bytes)} and metadata (None: no __metadata__)."""
    names = list(order) if order is not None else sorted(tensors)
    header = {}
    if metadata is not None and meta_first:
        header["__metadata__"] = dict(metadata)
    offset = 0
    blobs = []
    for name in names:
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata is not None and not meta_first:
        header["__metadata__"] = dict(metadata)
    return header, b"".join(blobs)


def load_seeds():
    seeds = []
    root = os.path.join(REPO, "Checkpoints")
    for d in sorted(os.listdir(root)):
        path = os.path.join(root, d, "checkpoint.safetensors")
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        parsed = parse_safetensors(data)
        seeds.append((f"{d} (two networks)", data, parsed))
    # Four-network checkpoints (max_steps_in_episode > 1), from a discrete and a continuous one.
    rng = np.random.default_rng(20)
    for d in ("CartPole-v1", "MountainCarContinuous-v0"):
        base = next((s for s in seeds if s[0].startswith(d + " ")), None)
        if base is None:
            continue
        parsed = base[2]
        meta = dict(parsed["metadata"])
        meta["max_steps_in_episode"] = "200"
        tensors = dict(parsed["tensors"])
        obs, act, _ = ENV_SHAPES[d]
        features = [int(f) for f in meta["features"].split(",")]
        for net, i, o in (("next_state_delta", obs + act, obs), ("done", obs, 1)):
            widths = [i] + features + [o]
            for k in range(len(widths) - 1):
                w = (rng.standard_normal((widths[k], widths[k + 1])) * 0.3).astype("<f4")
                b = (rng.standard_normal(widths[k + 1]) * 0.1).astype("<f4")
                tensors[f"{net}.Dense_{k}.kernel"] = ("F32", w.shape, w.tobytes())
                tensors[f"{net}.Dense_{k}.bias"] = ("F32", b.shape, b.tobytes())
        header, blob = layout(tensors, meta)
        data = encode(header, blob)
        seeds.append((f"{d} (four networks)", data, parse_safetensors(data)))
    # Policy files (sgx_policy_load), trained by the library once and kept in
    # Tests/fuzz/seeds: every head (categorical, gaussian, q_values,
    # dueling_q_values, squashed_gaussian, deterministic), with and without
    # observation normalisation.
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
    for f in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if f.startswith("policy-") and f.endswith(".safetensors"):
            with open(os.path.join(root, f), "rb") as fh:
                data = fh.read()
            parsed = parse_safetensors(data)
            seeds.append((f"policy {f[7:-12]} ({parsed['metadata']['head']})", data, parsed))
    return seeds


def is_policy(parsed_or_name):
    if isinstance(parsed_or_name, str):
        return parsed_or_name.startswith("policy ")
    meta = parsed_or_name.get("metadata") or {}
    return meta.get("format") == POLICY_FORMAT


# ---------------------------------------------------------------------------
# Mutations: each takes (rng, seed data, parsed seed) and returns bytes
# ---------------------------------------------------------------------------

HUGE_INTS = [2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1,
             2**64, 2**64 + 1, 10**30, 10**400]
NEG_INTS = [-1, -2, -2**31, -2**31 - 1, -2**32, -2**63, -2**63 - 1, -2**64]
ODD_NUMBERS = [Raw("4.0"), Raw("4.5"), Raw("1e308"), Raw("-1e308"), Raw("1e400"), Raw("NaN"), Raw("Infinity"),
               Raw("-Infinity"), Raw("-0"), Raw("0.0"), Raw("1E1"), Raw("5e-324"), Raw("0x10"), Raw("01"),
               Raw("1.8446744073709552e19"), Raw("9.3e18"), True, False, None, "4", "", [], {}, [4], Raw("+4")]
META_STRINGS = ["2147483648", "2147483647", "2147483646", "4294967296", "4294967295", "9223372036854775807",
                "9223372036854775808", "18446744073709551615", "18446744073709551616", "-9223372036854775808",
                "-1", "0", "-0", "1", "2", "3", "200", "1e308", "1e3", "NaN", "nan", "inf", "-inf", "Infinity",
                "", " ", "1.5", "1.0", "0x10", "+1", " 1 ", "\t2", "2\t", "\u00a02", "\uff11", "\u0661", "1_000",
                "9" * 400, "999999999999999999999999999999", "2**31", "1\u0000", "\u0000", "1 2", "1,2",
                "10000000", "65536", "32", "64"]
FEATURE_STRINGS = ["32", "32,32", "32,", ",32", "32,,32", ",", "0", "-32", "4294967296", "2147483648",
                   "9223372036854775808", "9223372036854775807,2", "1", "32 ", " 32", "3 2", "", "64,64",
                   "32.0", "1e308", "NaN", "32,32,32", "1,1,1,1,1,1,1,1", "100000000", "65536,65536"]
FORMAT_STRINGS = [FORMAT + "x", "synthetic-gymnax-swift/2", "", "SYNTHETIC-GYMNAX-SWIFT/1", FORMAT + " ",
                  " " + FORMAT, FORMAT[:-1], FORMAT + "\u0000", "safetensors"]
ENV_STRINGS = sorted(ENV_SHAPES) + ["", "Synthetic-CartPole-v1", "cartpole-v1", "CartPole-v1 ", "CartPole-v1\u0000",
                                    "Breakout-MinAtar", "../CartPole-v1", "x" * 5000]
ACT_STRINGS = sorted(ACTIVATIONS) + ["RELU", "", "gelu", "relu ", "leakyRelu", "identity\u0000"]
LATENT_STRINGS = sorted(LATENTS) + ["Normal", "", "gaussian", "normal "]


def _header_of(parsed):
    """A mutable header (dict) and the data section of a valid parsed seed, in file order."""
    tensors = parsed["tensors"]
    header, blob = layout(tensors, parsed["metadata"])
    return header, blob


def _tensor_names(header):
    return [k for k in header if k != "__metadata__"]


def m_bitflip(rng, data, parsed):
    b = bytearray(data)
    (n,) = struct.unpack("<Q", data[:8])
    for _ in range(rng.choice([1, 1, 1, 2, 3, 8])):
        if rng.random() < 0.6:
            pos = rng.randrange(0, min(len(b), 8 + n))
        else:
            pos = rng.randrange(0, len(b))
        b[pos] ^= 1 << rng.randrange(8)
    return bytes(b)


def m_byte_overwrite(rng, data, parsed):
    b = bytearray(data)
    (n,) = struct.unpack("<Q", data[:8])
    for _ in range(rng.choice([1, 2, 4])):
        length = rng.choice([1, 1, 2, 4, 8, 16])
        pos = rng.randrange(0, min(len(b), 8 + n)) if rng.random() < 0.7 else rng.randrange(0, len(b))
        choice = rng.random()
        for k in range(length):
            if pos + k >= len(b):
                break
            if choice < 0.3:
                b[pos + k] = rng.randrange(256)
            elif choice < 0.5:
                b[pos + k] = rng.choice(b'0123456789-+.eE')
            elif choice < 0.7:
                b[pos + k] = rng.choice(b'{}[]",:\\ ')
            else:
                b[pos + k] = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0xC0, 0xED, 0xF4, 0xF8])
    return bytes(b)


def m_truncate(rng, data, parsed):
    (n,) = struct.unpack("<Q", data[:8])
    r = rng.random()
    if r < 0.2:
        cut = rng.randrange(0, 9)
    elif r < 0.5:
        cut = rng.randrange(8, 8 + n)
    elif r < 0.7:
        cut = len(data) - rng.choice([1, 2, 3, 4, 8])
    else:
        cut = rng.randrange(8 + n, len(data))
    return data[:max(0, cut)]


def m_append(rng, data, parsed):
    k = rng.choice([1, 3, 4, 8, 64, 4096])
    fill = rng.choice([b"\x00", b" ", b"\xff", None])
    extra = bytes(rng.randrange(256) for _ in range(k)) if fill is None else fill * k
    return data + extra


def m_header_length(rng, data, parsed):
    (n,) = struct.unpack("<Q", data[:8])
    size = len(data)
    value = rng.choice([0, 1, 2, 7, 8, n - 1, n + 1, n - 8, n + 8, size, size - 8, size - 7, size - 9, 2**31 - 1,
                        2**31, 2**32, 2**32 + n, 2**53, 2**62, 2**63 - 1, 2**63, 2**63 + n, 2**64 - 1, 2**64 - 8,
                        100_000_001, rng.randrange(2**64)])
    value %= 2**64
    if rng.random() < 0.2:  # only some bytes of the field
        raw = bytearray(data[:8])
        raw[rng.randrange(8)] = rng.randrange(256)
        return bytes(raw) + data[8:]
    return struct.pack("<Q", value) + data[8:]


def _reencode(rng, header, blob):
    return encode(header, blob, pad=rng.random() < 0.8)


def _pick_tensor(rng, header):
    return rng.choice(_tensor_names(header))


def wrapping_shape(count, rng):
    """Dims below 2**63 whose product overflows 64 bits yet equals `count`
    modulo 2**62 (so that 4 * product wraps to the right byte size)."""
    if rng.random() < 0.3:
        return [2**62 + count, 4] if rng.random() < 0.5 else [2**32, 2**32, count + 1]
    for d1 in range(3, 1000, 2):
        d2 = (count * pow(d1, -1, 2**64)) % 2**64
        if d2 < 2**63 and d1 * d2 >= 2**64:
            return [d1, d2] if rng.random() < 0.5 else [d2, d1]
    return [2**63 - 1, 2**63 - 1]


def m_shape(rng, data, parsed):
    header, blob = _header_of(parsed)
    name = _pick_tensor(rng, header)
    shape = list(header[name]["shape"])
    r = rng.random()
    pool = HUGE_INTS + NEG_INTS + ODD_NUMBERS + [0, 1, 2, 3, 31, 33, 64]
    if r < 0.3 and shape:
        shape[rng.randrange(len(shape))] = rng.choice(pool)
    elif r < 0.45:
        shape = [rng.choice(HUGE_INTS + [2**32, 2**32]), rng.choice(HUGE_INTS + [2**32])]
    elif r < 0.55:  # overflowing products whose low bits look right
        count = 1
        for d in header[name]["shape"]:
            count *= d
        shape = wrapping_shape(count, rng)
    elif r < 0.65:
        shape = shape + [rng.choice([1, 0, 2, 2**32])]
    elif r < 0.75:
        shape = shape[:-1] if shape else [1]
    elif r < 0.85:
        shape = list(reversed(shape))
    elif r < 0.92:
        shape = rng.choice([[], Raw("null"), "32", {"0": 4}, [[4], 32], [Raw("1e2"), 2]])
    else:
        shape = [0] + shape
    header[name]["shape"] = shape
    return _reencode(rng, header, blob)


def m_shape_consistent(rng, data, parsed):
    """A valid file whose tensor has another shape (the data resized to match): must not fit."""
    tensors = dict(parsed["tensors"])
    name = rng.choice(sorted(tensors))
    dtype, shape, raw = tensors[name]
    r = rng.random()
    if r < 0.3:
        new = tuple(reversed(shape))
    elif r < 0.5:
        new = shape + (1,)
    elif r < 0.7:
        new = tuple(d + rng.choice([-1, 1]) for d in shape)
    elif r < 0.85:
        new = (0,) + shape[1:]
    else:
        new = (int(np.prod(shape)),)
    count = int(np.prod(new)) if new else 1
    arr = np.frombuffer(raw, "<f4")
    arr = np.resize(arr, count) if arr.size else np.zeros(count, "<f4")
    tensors[name] = (dtype, new, arr.astype("<f4").tobytes())
    header, blob = layout(tensors, parsed["metadata"])
    return encode(header, blob)


def m_offsets(rng, data, parsed):
    header, blob = _header_of(parsed)
    name = _pick_tensor(rng, header)
    b, e = header[name]["data_offsets"]
    r = rng.random()
    if r < 0.25:
        off = [b + rng.choice([-4, -1, 1, 4]), e + rng.choice([-4, -1, 0, 1, 4])]
    elif r < 0.4:
        off = [e, b]
    elif r < 0.6:
        off = [rng.choice(HUGE_INTS + NEG_INTS + [len(blob), len(blob) + 1]),
               rng.choice(HUGE_INTS + [e, len(blob)])]
    elif r < 0.7:
        off = [b - 2**64 if rng.random() < 0.5 else b + 2**64, e + 2**64]
    elif r < 0.8:
        other = rng.choice(_tensor_names(header))
        off = list(header[other]["data_offsets"])
    elif r < 0.9:
        off = rng.choice([[b], [b, e, e], [], Raw("null"), [Raw("0.0"), e], ["0", e], [True, e], [b, Raw("1e308")]])
    else:
        off = [b, e]
        header[name].pop("data_offsets")
        header[name]["data_offset"] = off
        return _reencode(rng, header, blob)
    header[name]["data_offsets"] = off
    return _reencode(rng, header, blob)


def m_dtype(rng, data, parsed):
    r = rng.random()
    if r < 0.5:
        header, blob = _header_of(parsed)
        name = _pick_tensor(rng, header)
        header[name]["dtype"] = rng.choice(sorted(DTYPE_SIZES) + ["f32", "F 32", "", "float32", "F32\u0000",
                                                                  Raw("32"), None, ["F32"], "FLOAT"])
        if header[name]["dtype"] == "F32":
            header[name]["dtype"] = "I32"
        if rng.random() < 0.2:
            del header[name]["dtype"]
        return _reencode(rng, header, blob)
    # Valid files with another dtype and data of its size.
    tensors = dict(parsed["tensors"])
    name = rng.choice(sorted(tensors))
    dtype, shape, raw = tensors[name]
    arr = np.frombuffer(raw, "<f4")
    new = rng.choice(["F64", "F16", "I32", "U32", "BF16", "U8", "I64"])
    conv = {"F64": "<f8", "F16": "<f2", "I32": "<i4", "U32": "<u4", "U8": "u1", "I64": "<i8"}
    if new == "BF16":
        out = (arr.view("<u4") >> 16).astype("<u2").tobytes()
    elif new in ("I32", "U32") and rng.random() < 0.5:
        out = arr.view(conv[new]).tobytes()  # the same bytes, only the dtype differs
    else:
        with np.errstate(all="ignore"):
            out = arr.astype(conv[new]).tobytes()
    tensors[name] = (new, shape, out)
    header, blob = layout(tensors, parsed["metadata"])
    return encode(header, blob)


def m_tensor_set(rng, data, parsed):
    tensors = dict(parsed["tensors"])
    names = sorted(tensors)
    r = rng.random()
    if r < 0.25:  # missing tensor, the rest re-laid out (valid, misfit)
        del tensors[rng.choice(names)]
    elif r < 0.4:  # missing tensor but its bytes left in place (invalid: a hole)
        header, blob = _header_of(parsed)
        del header[_pick_tensor(rng, header)]
        return _reencode(rng, header, blob)
    elif r < 0.45:  # many extra empty tensors (valid file: the header's root object with many keys)
        for j in range(rng.choice([100, 1000, 10_000, 100_000])):
            tensors[f"z{j}"] = ("F32", (0,), b"")
    elif r < 0.6:  # an extra tensor (valid file)
        extra = rng.choice(["extra", "reward.Dense_9.kernel", "reward.Dense_0.kernel2", "Reward.Dense_0.kernel",
                            "next_state_delta.Dense_0.kernel", "done.Dense_0.bias", "", "\u0000",
                            "initial_state.Dense_0.kernel ", "a" * 1000])
        shape = rng.choice([(1,), (0,), (2, 3), (32,)])
        tensors[extra] = ("F32", shape, np.ones(int(np.prod(shape)), "<f4").tobytes())
    elif r < 0.8:  # renamed
        name = rng.choice(names)
        new = rng.choice([name.upper(), name + " ", name.replace("Dense_0", "Dense_00"), name.replace(".", "/"),
                          name.replace("kernel", "bias"), name + "\u0000", " " + name])
        if new in tensors:
            return m_tensor_set(rng, data, parsed)
        tensors[new] = tensors.pop(name)
    else:  # a duplicated name in the JSON header: the last one counts
        header, blob = _header_of(parsed)
        names = _tensor_names(header)
        a, b = rng.sample(names, 2)
        pairs = Pairs(header.items())
        pairs.append((a, header[b]))  # a declared again, pointing at b's bytes: a hole where a was
        if rng.random() < 0.5:
            pairs = Pairs([(k, v) for k, v in pairs])
            pairs.insert(0, (b, header[a]))  # and b first at a's
        if rng.random() < 0.3:
            pairs.append(("__metadata__", {"format": FORMAT}))
        return _reencode(rng, pairs, blob)
    header, blob = layout(tensors, parsed["metadata"], order=rng.sample(sorted(tensors), len(tensors)))
    return encode(header, blob)


POLICY_FORMAT = "synthetic-gymnax-swift policy 1"
POLICY_KEYS = ("format", "algorithm", "env_id", "activation", "sizes", "hidden_layer_sizes", "head", "action_space")
HEADS = ("categorical", "gaussian", "deterministic", "squashed_gaussian", "q_values", "dueling_q_values")
SIZES_STRINGS = ["4,16,16,2", "3,16,16,1", "4,16,2", "4,2", "4", "", "4,16,16,2,", ",4,16,16,2", "4,,16,16,2",
                 "4,16,16,3", "4,16,16,4", "4,16,16,1", "0,16,16,2", "-4,16,16,2", "4,65536,2", "4,65537,2",
                 "4," + ",".join(["1"] * 70) + ",2", "4,4294967296,2", "4,9223372036854775808,2", "+4,16,16,2",
                 " 4,16,16,2", "4,16,16,2 ", "04,16,16,2", "4.0,16,16,2", "4,16,16,1e308"]
ACTION_SPACE_STRINGS = ["discrete(2)", "discrete(3)", "discrete(0)", "discrete(-1)", "discrete(4294967296)",
                        "box(1)", "box(2)", "box(0)", "box(-1)", "", "discrete", "box(1)x"]


def m_metadata_value(rng, data, parsed):
    meta = dict(parsed["metadata"])
    if is_policy(parsed):
        key = rng.choice(list(POLICY_KEYS) + ["sizes"] * 3 + ["head", "hp.learning_rate", "seed"])
        pool = {"format": FORMAT_STRINGS + [POLICY_FORMAT + " ", "synthetic-gymnax-swift policy 2"],
                "algorithm": ["ppo", "dqn", "sac", "td3", "ddpg", "", "PPO", "x" * 1000],
                "env_id": ENV_STRINGS, "activation": ACT_STRINGS, "sizes": SIZES_STRINGS,
                "hidden_layer_sizes": SIZES_STRINGS, "head": list(HEADS) + ["", "Gaussian", "q-values"],
                "action_space": ACTION_SPACE_STRINGS}.get(key, META_STRINGS)
        meta[key] = rng.choice(pool)
        header, blob = layout(parsed["tensors"], meta)
        return encode(header, blob)
    key = rng.choice(list(CONFIG_KEYS) + ["max_steps_in_episode"] * 3 + ["latent_size", "features", "source"])
    pool = {"format": FORMAT_STRINGS, "env_id": ENV_STRINGS, "features": FEATURE_STRINGS,
            "activation": ACT_STRINGS, "latent_dist": LATENT_STRINGS}.get(key, META_STRINGS)
    meta[key] = rng.choice(pool)
    if rng.random() < 0.15:
        meta[key] = meta[key] * rng.choice([2, 100])
    header, blob = layout(parsed["tensors"], meta)
    return encode(header, blob)


def m_metadata_structure(rng, data, parsed):
    meta = dict(parsed["metadata"])
    r = rng.random()
    header, blob = layout(parsed["tensors"], meta, meta_first=rng.random() < 0.7)
    if r < 0.3:  # a value that is not a string
        key = rng.choice(list(meta))
        header["__metadata__"][key] = rng.choice(HUGE_INTS + NEG_INTS + ODD_NUMBERS + [1, 200])
    elif r < 0.45:
        del header["__metadata__"][rng.choice(list(meta))]
    elif r < 0.55:
        header["__metadata__"][rng.choice(["extra", "", "\u0000", "x" * 10000, "max_steps"])] = rng.choice(
            ["", "1", "2147483648", "x" * 100000])
    elif r < 0.7:
        header["__metadata__"] = rng.choice([None, [], "x", 1, [meta], {}, Raw("NaN")])
    elif r < 0.8:
        del header["__metadata__"]
    else:  # the metadata given twice, the second edited
        other = dict(meta)
        other["max_steps_in_episode"] = rng.choice(META_STRINGS)
        pairs = Pairs(header.items())
        pairs.append(("__metadata__", other))
        return _reencode(rng, pairs, blob)
    return _reencode(rng, header, blob)


def _deep(depth, open_, close, inner):
    return Raw(open_ * depth + inner + close * depth)


def m_json_syntax(rng, data, parsed):
    header, blob = _header_of(parsed)
    r = rng.random()
    if r < 0.3:  # deep nesting in an ignored field, in a metadata value, or as the header
        depth = rng.choice([100, 128, 129, 200, 512, 513, 1000, 5000, 50_000])
        deep = _deep(depth, "[", "]", "") if rng.random() < 0.6 else Raw('{"a":' * depth + "1" + "}" * depth)
        where = rng.random()
        if where < 0.5:
            header[_pick_tensor(rng, header)]["x"] = deep
        elif where < 0.8:
            header["__metadata__"]["format"] = deep
        else:
            header = Pairs([("a", deep)] + list(header.items()))
        return _reencode(rng, header, blob)
    text = emit_json(header)
    if r < 0.4:
        text = text + rng.choice(["x", "}", ",", "\u0000", "{}", " \n\t\r", "\x0b", "\u00a0"])
    elif r < 0.5:
        text = rng.choice([" ", "\ufeff", "\n", "[", ""]) + text
    elif r < 0.6:
        text = rng.choice(["[]", "null", "1", '"x"', "[" + text + "]", "", "{", "}", "{}"])
    elif r < 0.7:  # a JSON string made invalid: raw control char, lone surrogate escape, bad escape
        token = '"relu"' if '"relu"' in text else '"F32"'
        i = text.find(token)
        bad = rng.choice(['"\u0001"', '"\\ud800"', '"\\udc00x"', '"\\x41"', '"\\u12"', '"a\\"', '"\\ud83d\\ude00"'])
        text = text[:i] + bad + text[i + len(token):]
    elif r < 0.8:
        text = text.replace(":", rng.choice([" : ", "=", "::"]), 1) if rng.random() < 0.5 else text.replace(
            ",", rng.choice([",,", ", ", ""]), 1)
    elif r < 0.9:  # invalid UTF-8 bytes inside the header
        raw = bytearray(text.encode())
        i = rng.randrange(len(raw))
        raw[i:i + 1] = rng.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
        raw += b" " * (-len(raw) % 8)
        return struct.pack("<Q", len(raw)) + bytes(raw) + blob
    else:  # a large header: whitespace, a huge string, many ignored keys
        k = rng.random()
        if k < 0.33:
            text = text[:-1] + " " * rng.choice([10_000, 300_000]) + "}"
        elif k < 0.66:
            text = text[:-1] + ',"big":"' + "x" * rng.choice([100_000, 500_000]) + '"}'
        else:  # many keys in one object: the metadata, or a tensor's info (ignored fields)
            many = {f"k{j}": "v" for j in range(rng.choice([1000, 10_000, 100_000]))}
            if rng.random() < 0.5:
                header["__metadata__"].update(many)
            else:
                header[_pick_tensor(rng, header)].update(many)
            return _reencode(rng, header, blob)
    raw = text.encode("utf-8", errors="surrogatepass")
    if rng.random() < 0.8:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + blob


def m_data_values(rng, data, parsed):
    tensors = dict(parsed["tensors"])
    name = rng.choice(sorted(tensors))
    dtype, shape, raw = tensors[name]
    arr = np.frombuffer(raw, "<f4").copy()
    if arr.size == 0:
        return m_bitflip(rng, data, parsed)
    specials = [np.nan, np.inf, -np.inf, 3.4028235e38, -3.4028235e38, 1e30, 1e-45, -0.0, 0.0, 1e20, 65504.0]
    for _ in range(rng.choice([1, 1, 2, 5])):
        arr[rng.randrange(arr.size)] = rng.choice(specials)
    if rng.random() < 0.1:  # a signalling NaN / NaN payload
        arr.view("<u4")[rng.randrange(arr.size)] = rng.choice([0x7F800001, 0xFFC00001, 0x7FBFFFFF])
    tensors[name] = (dtype, shape, arr.astype("<f4").tobytes())
    header, blob = layout(tensors, parsed["metadata"])
    return encode(header, blob)


def m_relayout(rng, data, parsed):
    """Valid re-encodings of the same content: data in another order, keys in
    another order, the metadata last, no padding, extra fields, extra
    whitespace, escaped names. Must load with the same tensors."""
    tensors = parsed["tensors"]
    order = rng.sample(sorted(tensors), len(tensors))
    header, blob = layout(tensors, parsed["metadata"], order=order, meta_first=rng.random() < 0.5)
    if rng.random() < 0.3:
        header[rng.choice(order)]["extra_field"] = rng.choice([1, "x", [1, 2], {"a": None}, 2**70])
    if rng.random() < 0.3:
        items = list(header.items())
        rng.shuffle(items)
        header = dict(items)
    if rng.random() < 0.3:  # whitespace between the tokens
        text = json.dumps(header, indent=rng.choice([1, "\t", " \r\n"]), separators=(", ", " : "))
    else:
        text = emit_json(header)
    if rng.random() < 0.2:
        text = text.replace('"reward', '"\\u0072eward')  # the same name, escaped
    raw = text.encode()
    pad = rng.choice([0, 0, 1, 8])
    raw += b" " * ((-len(raw) % 8) + (8 * pad if pad else 0)) if pad or rng.random() < 0.5 else b""
    return struct.pack("<Q", len(raw)) + raw + blob


def m_config(rng, data, parsed):
    """A fresh, valid checkpoint of another configuration: any real id, hidden
    sizes from 1 to 2**16 + 1 wide and up to 65 layers, latent sizes up to
    2**16 + 1, every activation and latent distribution, one-step or longer
    episodes, weights of several scales. It fits (the library may refuse only
    what exceeds its documented bounds); when accepted, its step is checked
    against numpy."""
    env_id = rng.choice(sorted(ENV_SHAPES))
    obs, act, _ = ENV_SHAPES[env_id]
    r = rng.random()
    if r < 0.5:
        features = [rng.choice([1, 2, 3, 8, 32, 64]) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    elif r < 0.7:
        features = [rng.choice([1, 2])] * rng.choice([10, 63, 64, 65])
    elif r < 0.85:
        features = [rng.choice([1000, 4096, 65535, 65536, 65537])]
    else:
        features = [rng.choice([1, 5, 32])]
    latent = rng.choice([1, 2, obs, 7, 100, 4096]) if rng.random() < 0.9 else rng.choice([65536, 65537])
    steps = rng.choice([1, 1, 2, 1000, 2**31 - 1])

    def floats(features, latent):
        config = {"env_id": env_id, "features": features, "latent_size": latent, "max_steps": steps}
        return sum(int(np.prod(shape)) for shape in network_shapes(config).values())

    if floats(features, latent) > 2**21:  # keep files below ~8 MB: a wide layer, or a large latent, not both
        latent = rng.choice([1, 2, obs])
        while floats(features, latent) > 2**21:
            features = [max(1, f // 4) for f in features]
    meta = {"format": FORMAT, "env_id": env_id, "features": ",".join(map(str, features)),
            "activation": rng.choice(sorted(ACTIVATIONS)), "latent_dist": rng.choice(sorted(LATENTS)),
            "latent_size": str(latent), "max_steps_in_episode": str(steps), "source": "fuzz_checkpoints"}
    scale = rng.choice([0.01, 0.3, 1.0, 10.0])
    nprng = np.random.default_rng(rng.randrange(2**32))
    tensors = {}
    for name, shape in network_shapes(declared_config(meta)).items():
        values = (nprng.standard_normal(int(np.prod(shape)), dtype=np.float32) * np.float32(scale)).astype("<f4")
        tensors[name] = ("F32", shape, values.tobytes())
    header, blob = layout(tensors, meta)
    return encode(header, blob)


def m_policy_values(rng, data, parsed):
    """A valid policy file with odd values in the tensors the policy applies
    besides its weights: the action box (low > high, low = high, huge,
    -0.0), observation normalisation (negative or zero variance, zero or
    negative count, huge mean), log standard deviations of +-1e30."""
    tensors = dict(parsed["tensors"])
    targets = [n for n in ("action_space.low", "action_space.high", "obs_rms.mean", "obs_rms.var", "obs_rms.count",
                           "action_log_std") if n in tensors]
    if not targets:
        return m_data_values(rng, data, parsed)
    for name in rng.sample(targets, rng.choice([1, 1, 2])):
        dtype, shape, raw = tensors[name]
        arr = np.frombuffer(raw, "<f4").copy()
        if name == "action_space.low" and "action_space.high" in tensors and rng.random() < 0.5:
            arr = np.frombuffer(tensors["action_space.high"][2], "<f4") + np.float32(rng.choice([0.0, 1.0, 1e30]))
        else:
            arr[:] = rng.choice([-1.0, 0.0, -0.0, 1e-45, 1e30, -1e30, 3.4e38, -3.4e38, 1e-30, 2.0])
        tensors[name] = (dtype, shape, arr.astype("<f4").tobytes())
    header, blob = layout(tensors, parsed["metadata"])
    return encode(header, blob)


class Sparse(bytes):
    """A mutant whose file is these bytes followed by zeros up to `size` (written sparse)."""
    size = 0


def m_sparse(rng, data, parsed):
    """Files of 64 MB to 1 TB, zeros after the checkpoint (sparse, so cheap):
    bytes no tensor covers, or one extra tensor declared over all of them.
    Either way the file must be refused (the library's bound is 1 GiB)."""
    # Above the bound: refused before reading; below: read (1 GiB takes seconds, hence rare).
    size = rng.choice([2**30 + 1, 2**31, 2**32 + 8, 2**40] * 6 + [2**26] * 3 + [2**29 + 8, 2**30 - 64])
    if rng.random() < 0.5:
        out = Sparse(data)
    else:
        tensors = dict(parsed["tensors"])
        header, blob = layout(tensors, parsed["metadata"])
        probe = encode(dict(header, zzz_extra={"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}), blob)
        tail = size - len(probe) - 64  # leave room for the longer numbers below
        header["zzz_extra"] = {"dtype": "U8", "shape": [tail], "data_offsets": [len(blob), len(blob) + tail]}
        text = emit_json(header).encode()
        total = 8 + len(text) + len(blob) + tail
        text += b" " * (size - total)  # pad the header so that the file is exactly `size`
        out = Sparse(struct.pack("<Q", len(text)) + text + blob)
    out.size = size
    return out


def m_unicode(rng, data, parsed):
    """Names and metadata keys that Swift's String compares as equal
    (canonically equivalent) but that are different bytes, hence different
    names for safetensors: e and e + U+0301, K and KELVIN SIGN (U+212A)."""
    meta = dict(parsed["metadata"])
    tensors = dict(parsed["tensors"])
    r = rng.random()
    if r < 0.4:
        meta["caf\u00e9"] = "one"
        meta["cafe\u0301"] = "two"
    elif r < 0.7:
        tensors["K"] = ("F32", (1,), np.ones(1, "<f4").tobytes())
        tensors["\u212a"] = ("F32", (1,), np.zeros(1, "<f4").tobytes())
    else:
        meta["note\u212a"] = "kelvin"
        meta["noteK"] = "K"
    header, blob = layout(tensors, meta)
    return encode(header, blob)


MUTATORS = {
    "bitflip": (m_bitflip, 14),
    "byte_overwrite": (m_byte_overwrite, 8),
    "truncate": (m_truncate, 6),
    "append": (m_append, 4),
    "header_length": (m_header_length, 6),
    "shape": (m_shape, 10),
    "shape_consistent": (m_shape_consistent, 4),
    "data_offsets": (m_offsets, 8),
    "dtype": (m_dtype, 6),
    "tensor_set": (m_tensor_set, 6),
    "metadata_value": (m_metadata_value, 14),
    "metadata_structure": (m_metadata_structure, 5),
    "json_syntax": (m_json_syntax, 6),
    "data_values": (m_data_values, 4),
    "relayout": (m_relayout, 4),
    "config": (m_config, 5),
    "sparse": (m_sparse, 0.4),
    "unicode": (m_unicode, 1),
    "policy_values": (m_policy_values, 0),  # drawn instead of "config" for policy files
    "combined": (None, 6),
}
_KINDS = list(MUTATORS)
_WEIGHTS = [MUTATORS[k][1] for k in _KINDS]


def make_mutant(seed, index, seeds):
    """(kind, seed name, bytes) of mutant `index` of stream `seed`: a function of both alone."""
    rng = random.Random(f"sgx-fuzz/{seed}/{index}")
    name, data, parsed = seeds[rng.randrange(len(seeds))]
    kind = rng.choices(_KINDS, _WEIGHTS)[0]
    if kind == "config" and is_policy(name):
        kind = "policy_values"
    if kind == "combined":
        parts = [k for k in _KINDS if k not in ("combined", "config", "sparse")]
        steps = rng.choices(parts, [MUTATORS[k][1] for k in parts], k=rng.choice([2, 3]))
        out = data
        for k in steps:
            try:
                p = parse_safetensors(out)
            except Invalid:
                p = None
            fn = MUTATORS[k][0]
            if p is None and k not in ("bitflip", "byte_overwrite", "truncate", "append", "header_length"):
                continue  # JSON-level edits need a parseable file
            try:
                out = fn(rng, out, p if p is not None else parsed)
            except (TypeError, KeyError, ValueError, IndexError, AttributeError, struct.error):
                continue  # an edit that does not apply to what earlier steps made
        return "combined(" + "+".join(steps) + ")", name, out
    return kind, name, MUTATORS[kind][0](rng, data, parsed)


# ---------------------------------------------------------------------------
# numpy reference of the networks
# ---------------------------------------------------------------------------


def _act(name, x):
    with np.errstate(all="ignore"):
        if name == "relu":
            return np.maximum(x, 0)
        if name == "tanh":
            return np.tanh(x)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if name in ("swish", "silu"):
            return x / (1 + np.exp(-x))
        if name == "elu":
            return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
        if name == "softplus":
            return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        if name == "leaky_relu":
            return np.where(x >= 0, x, 0.01 * x)
        return x


_LAYERS = [None, None]  # (id of the tensors dict, network name), its layers


def forward(tensors, net, config, x):
    """(value, error bound) of a network on x, in float64. The bound is a
    running float32 rounding-error analysis, made 4 times wider: a dot product
    of n terms is off by at most (n + 2) * 2**-24 times the sum of the terms'
    magnitudes, an activation (Lipschitz constant <= 1.1) carries its input's
    error on, plus a few ulps of its own."""
    value = np.asarray(x, np.float64)
    err = np.zeros_like(value)  # the inputs are float32 values: exact
    key = (id(tensors), net)
    if _LAYERS[0] != key:  # the float64 weights of the last network used (a VectorEnvironment checks many rows)
        layers = []
        k = 0
        while f"{net}.Dense_{k}.kernel" in tensors:
            w = np.frombuffer(tensors[f"{net}.Dense_{k}.kernel"][2], "<f4").astype(np.float64)
            b = np.frombuffer(tensors[f"{net}.Dense_{k}.bias"][2], "<f4").astype(np.float64)
            w = w.reshape(-1, b.size)
            layers.append((w, np.abs(w), b, np.abs(b)))
            k += 1
        _LAYERS[:] = [key, layers]
    layers = _LAYERS[1]
    with np.errstate(all="ignore"):
        for i, (w, abs_w, b, abs_b) in enumerate(layers):
            magnitude = np.abs(value) @ abs_w + abs_b
            value = value @ w + b
            err = (w.shape[0] + 2) * 2.0**-24 * magnitude + err @ abs_w
            if i < len(layers) - 1:
                value = _act(config["activation"], value)
                err = 1.1 * err + 2.0**-21 * np.abs(value) + 1e-7
    return value, 4 * err + 2.0**-22 * np.abs(value) + 1e-30


# ---------------------------------------------------------------------------
# The child process
# ---------------------------------------------------------------------------


OVERRIDES = [1, 2, 200, 2**31 - 1, 2**31, 2**32 + 1, 2**53, 1e308, -1, 0, 1.5, math.nan, math.inf, -math.inf,
             1e-300, -0.0, 7.0]


VEC_SIZES = [1, 3, 64, 65, 130]


def policy_worker(sgs, req, library_errors):
    """A policy file through sgx_policy_load; when accepted, saved back and
    asked for deterministic and sampled actions on a few observations."""
    try:
        policy = sgs.Policy.load(req["path"])
    except library_errors as e:
        return {"status": "refused", "error": type(e).__name__, "message": str(e)}
    except Exception as e:  # noqa: BLE001
        return {"status": "bad-exception", "error": type(e).__name__, "message": str(e)}
    res = {"status": "accepted", "algorithm": policy.algorithm, "env_id": policy.env_id,
           "obs_size": policy.obs_size, "discrete": policy.discrete, "num_actions": policy.num_actions}
    try:
        policy.save(req["save"])
        res["saved"] = req["save"]
    except Exception as e:  # noqa: BLE001
        res["save_error"] = f"{type(e).__name__}: {e}"
    obs = (np.random.default_rng(abs(req["i"])).standard_normal((5, policy.obs_size)) * 3).astype(np.float32)
    try:
        deterministic = policy.act(obs)
        sampled = policy.act(obs, key=np.array([req["key"][0], 7], np.uint32))
        res["act"] = {k: np.asarray(v, np.float32).tobytes().hex() for k, v in
                      (("deterministic", deterministic), ("sampled", sampled))}
    except library_errors as e:
        res["act_error"] = f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001
        res["act_bad_exception"] = f"{type(e).__name__}: {e}"
    return res


def _policy_sizes(text):
    """The layer sizes a policy's metadata declares (digits only, every piece present), or None."""
    pieces = text.split(",")
    if not all(re.fullmatch(r"[0-9]+", p) for p in pieces):
        return None
    sizes = [int(p) for p in pieces]
    return sizes if len(sizes) >= 2 and all(v >= 1 for v in sizes) else None


POLICY_DERIVED = ("hidden_layer_sizes", "action_space")  # written by save, ignored by load


def judge_policy(data, res, parsed, why_invalid):
    """judge() for policy files: an invalid file must be refused; an
    accepted one must be saved back with exactly the tensors it was read
    with (and nothing it did not declare), its declared sizes well formed,
    its metadata kept, and its actions inside its action space."""
    status = res["status"]
    if status == "bad-exception":
        return "refused", f"an undocumented exception {res['error']}: {res['message'][:300]}", None
    if status == "refused":
        return "refused", None, f"{res['error']}: {_normalize_message(res['message'])}"
    if why_invalid is not None:
        return "accepted", f"accepted a policy file that is not valid safetensors ({why_invalid})", None
    meta = parsed["metadata"] or {}
    if _policy_sizes(meta.get("sizes", "")) is None:
        return "accepted", f"accepted a policy whose sizes {meta.get('sizes')!r} are not comma-separated positive integers", None
    if "save_error" in res:
        return "accepted", f"accepted, but saving it back failed: {res['save_error']}", None
    with open(res["saved"], "rb") as f:
        try:
            saved = parse_safetensors(f.read())
        except Invalid as e:
            return "accepted", f"accepted, and sgx_policy_save wrote an invalid file ({e})", None
    declared, loaded = parsed["tensors"], saved["tensors"]
    invented = sorted(set(loaded) - set(declared))
    if invented:
        return "accepted", f"the saved policy has tensors the file does not declare: {invented[:3]}", None
    for name in loaded:
        if declared[name] != loaded[name]:
            return "accepted", (f"tensor {name}: loaded {loaded[name][0]} {list(loaded[name][1])} differs from the "
                                f"declared {declared[name][0]} {list(declared[name][1])} or its bytes"), None
    saved_meta = saved["metadata"] or {}
    for key in set(meta) | set(saved_meta):
        if key in POLICY_DERIVED:
            continue
        want, got = meta.get(key), saved_meta.get(key)
        if key == "sizes" and want is not None and got is not None and _policy_sizes(want) == _policy_sizes(got):
            continue
        if want != got:
            return "accepted", f"metadata {key!r}: the file declares {want!r}, the loaded policy has {got!r}", None
    ignored = sorted(set(declared) - set(loaded))
    if "act_bad_exception" in res:
        return "accepted", f"act raised an undocumented exception: {res['act_bad_exception']}", None
    if "act_error" in res:
        return "accepted; act refused", None, _normalize_message(res["act_error"])
    for kind, hexed in res["act"].items():
        actions = _f32(hexed)
        if res["discrete"]:
            if not np.all((actions >= 0) & (actions < res["num_actions"]) & (actions == np.round(actions))):
                return "accepted", f"{kind} actions {actions[:5]} outside [0, {res['num_actions']})", None
        else:
            if "action_space.low" not in declared:
                return "accepted", "a continuous policy accepted without action_space.low", None
            low = np.frombuffer(declared["action_space.low"][2], "<f4")
            high = np.frombuffer(declared["action_space.high"][2], "<f4")
            if np.any(low > high):
                return "accepted", f"accepted an action box with low > high ({low[:3]} > {high[:3]})", None
            a = actions.reshape(-1, low.size)
            if not (np.all(np.isfinite(a)) and np.all(a >= low) and np.all(a <= high)):
                return "accepted", f"{kind} actions {a[0]} outside the box [{low}, {high}]", None
    CHECKED["policy actions"] += 1
    if ignored:  # as the checkpoint loader refuses an unexpected tensor
        return "accepted", f"accepted a policy with tensors it does not use: {[n[:40] for n in ignored[:3]]}", None
    derived = [k for k in POLICY_DERIVED if k in meta and meta[k] != saved_meta.get(k)]
    if derived:
        return "accepted (declared metadata ignored)", None, ", ".join(derived)
    return "accepted", None, None


def worker_main():
    """Reads one JSON request per line; writes "S <index>" before each and one JSON result after."""
    sys.path.insert(0, os.path.join(REPO, "python"))
    import synthetic_gymnax_swift as sgs
    from synthetic_gymnax_swift import _native

    out = sys.stdout
    library_errors = (_native.SyntheticGymnaxError, ValueError, FileNotFoundError)
    print("READY " + json.dumps(_native.registered_ids()), file=out, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        print(f"S {req['i']}", file=out, flush=True)
        res = {"i": req["i"]}
        if req.get("policy"):
            res.update(policy_worker(sgs, req, library_errors))
            print(json.dumps(res), file=out, flush=True)
            continue
        try:
            native = _native.NativeEnv(checkpoint=req["path"])
        except library_errors as e:
            res.update(status="refused", error=type(e).__name__, message=str(e))
        except Exception as e:  # noqa: BLE001
            res.update(status="bad-exception", error=type(e).__name__, message=str(e))
        else:
            res["status"] = "accepted"
            res["name"] = native.name
            try:
                native.save_checkpoint(req["save"])
                res["saved"] = req["save"]
            except Exception as e:  # noqa: BLE001
                res["save_error"] = f"{type(e).__name__}: {e}"
            res["native_params"] = {k: (v if isinstance(v, int) else repr(v)) for k, v in native.params.items()}
            del native
            # The one parameter a checkpoint takes, overridden (sgx_env_create_from_checkpoint's params).
            value = OVERRIDES[abs(req["i"]) % len(OVERRIDES)]
            res["override"] = {"value": value.hex() if isinstance(value, float) else value}
            try:
                other = _native.NativeEnv(checkpoint=req["path"], params={"max_steps_in_episode": value})
                res["override"]["loaded"] = other.params.get("max_steps_in_episode")
                del other
            except library_errors as e:
                res["override"]["refused"] = f"{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001
                res["override"]["bad_exception"] = f"{type(e).__name__}: {e}"
            try:
                env, params = sgs.make(res["name"], checkpoint=req["path"], gymnax_version=1)
                key = np.array(req["key"], np.uint32)
                obs, state = env.reset(key, params)
                if env._native.discrete:
                    action = req["action_seed"] % env.num_actions
                else:
                    lo, hi = env._native.action_low, env._native.action_high
                    u = np.random.default_rng(req["action_seed"]).random(lo.size)
                    action = np.where(np.isfinite(lo) & np.isfinite(hi), lo + u * (hi - lo), u).astype(np.float32)
                step_key = np.array([req["key"][1], req["key"][0]], np.uint32)
                obs2, state2, reward, terminated, truncated, info = env.step(step_key, state, action, params)
                res["step"] = {
                    "obs": np.asarray(state.obs, np.float32).tobytes().hex(),
                    "action": np.asarray(action, np.float32).reshape(-1).tobytes().hex(),
                    "discrete": bool(env._native.discrete),
                    "reward": np.float32(reward).tobytes().hex(),
                    "final": np.asarray(info["final_observation"], np.float32).tobytes().hex(),
                    "terminated": bool(terminated), "truncated": bool(truncated),
                    "max_steps": int(params.max_steps_in_episode),
                }
            except library_errors as e:
                res["step_error"] = f"{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001
                res["step_bad_exception"] = f"{type(e).__name__}: {e}"
            # The batched path (sgx_vec_env: chunks of rows, several threads) on 1 to 130 copies.
            try:
                count = VEC_SIZES[abs(req["i"]) % len(VEC_SIZES)]
                vec = sgs.VectorEnvironment(res["name"], num_envs=count, seed=abs(req["i"]) % 1000, checkpoint=req["path"],
                                 final_obs=True)
                obs0, _ = vec.reset()
                if vec.discrete:
                    actions = (np.arange(count) % vec.num_actions).astype(np.int32)
                else:
                    lo, hi = env._native.action_low, env._native.action_high
                    u = np.random.default_rng(req["action_seed"]).random((count, lo.size))
                    actions = np.where(np.isfinite(lo) & np.isfinite(hi), lo + u * (hi - lo), u).astype(np.float32)
                _, reward, terminated, truncated, info = vec.step(actions)
                res["vec"] = {"obs": obs0.astype(np.float32).tobytes().hex(),
                              "action": actions.astype(np.float32).tobytes().hex(), "count": count,
                              "reward": reward.astype(np.float32).tobytes().hex(),
                              "final": info["final_obs"].astype(np.float32).tobytes().hex(),
                              "terminated": terminated.tolist(), "truncated": truncated.tolist()}
                del vec
            except library_errors as e:
                res["vec_error"] = f"{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001
                res["vec_bad_exception"] = f"{type(e).__name__}: {e}"
        print(json.dumps(res), file=out, flush=True)


# ---------------------------------------------------------------------------
# The parent
# ---------------------------------------------------------------------------


class Worker:
    def __init__(self, lib, workdir, backtrace=False, memory_limit=8 << 30):
        self.stderr_path = os.path.join(workdir, f"worker-{time.monotonic_ns()}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        env = dict(os.environ, SGX_LIB=lib, PYTHONPATH=os.path.join(REPO, "python"),
                   SWIFT_BACKTRACE="enable=yes,interactive=no" if backtrace else "enable=no")

        def limits():
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, env=env, preexec_fn=limits)
        self.buffer = b""
        self.registered = None

    def cpu_seconds(self):
        """The child's CPU time so far (all its threads), from /proc; None where unavailable."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def readline(self, timeout):
        """The child's next line; b"" when it died; None when it hangs: it
        spent `timeout` seconds of CPU time on it, or four times that in
        wall-clock time (a deadlock, or a machine stalled beyond reason).
        CPU time, so that a loaded machine does not make false hangs."""
        start, cpu0 = time.monotonic(), self.cpu_seconds()
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            waited = time.monotonic() - start
            if waited >= timeout:
                cpu = self.cpu_seconds()
                if cpu is None or cpu0 is None or cpu - cpu0 >= timeout or waited >= 4 * timeout:
                    return None  # a hang
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b""  # EOF: the child died
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def send(self, req):
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except BrokenPipeError:
            return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()

    def close(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()

    def crash_report(self):
        """(where, report): the first frame of ours in the crashed thread
        (e.g. "Safetensors.parse(_:path:) at NN/Safetensors.swift:66") and
        the crash lines of the Swift backtrace (or the end of stderr)."""
        try:
            with open(self.stderr_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return "", ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        crash = []
        for ln in lines:
            if ln.startswith("Thread 1") or ln.startswith("Registers"):
                break
            if ln.startswith("***") or "crashed" in ln or re.match(r"\s*\d+ ", ln) or "Fatal error" in ln:
                crash.append(ln)
        where = ""
        for ln in crash:
            m = re.search(r"0x[0-9a-f]+ (?:specialized )?(.*?) \+ \d+ in libsynthetic_gymnax\.so at .*?Sources/(\S+?):(\d+)",
                          ln)
            if m:
                where = f"{m.group(1)} at {m.group(2)}:{m.group(3)}"
                break
        why = next((re.sub(r" at 0x[0-9a-f]+", "", ln.strip("* ")) for ln in crash
                    if "runtime failure" in ln or "Fatal error" in ln or "Program crashed" in ln), "")
        if why:
            where = f"{why}; {where}" if where else why
        report = "\n".join(crash[:16]) if crash else "\n".join(lines[-8:])
        return where, report


def _f32(hexstr):
    return np.frombuffer(bytes.fromhex(hexstr), np.float32)


def _normalize_message(msg):
    """An error message with file paths and numbers elided, for grouping."""
    msg = re.sub(r"/\S*?m\d+\.safetensors", "<file>", msg)
    msg = re.sub(r"'[^']{40,}'", "'...'", msg)
    msg = re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "N", msg)
    return msg[:140]


def within_bounds(config):
    """Whether a configuration is inside the bounds the library documents
    (include/synthetic_gymnax.h, Support/Limits.swift): widths and latent
    size 2^16, 64 layers, 2^26 parameters a network, int32 episode lengths.
    Beyond them refusing is right, and not reported."""
    if config is None:
        return False
    widths = config["features"] + [config["latent_size"]]
    if max(widths) > 2**16 or len(config["features"]) + 1 > 64 or config["max_steps"] > 2**31 - 1:
        return False
    shapes = network_shapes(config) or {}
    per_net = collections.Counter()
    for name, shape in shapes.items():
        per_net[name.split(".")[0]] += int(np.prod(shape))
    return all(n <= 2**26 for n in per_net.values())


def judge(data, res, seed_name):
    """(outcome, failure or None, detail) of one mutant from its bytes and the child's result."""
    _LAYERS[:] = [None, None]
    if isinstance(data, Sparse):  # never valid and fitting: see m_sparse
        if res["status"] == "accepted":
            return "accepted", f"accepted a file of {data.size} bytes, zeros after the checkpoint", None
        if res["status"] == "bad-exception":
            return "refused", f"an undocumented exception {res['error']}: {res['message'][:300]}", None
        return "refused", None, f"{res['error']}: {_normalize_message(res['message'])}"
    try:
        parsed = parse_safetensors(data)
        valid, why_invalid = True, None
    except Invalid as e:
        parsed, valid, why_invalid = None, False, str(e)
    if is_policy(seed_name):
        return judge_policy(data, res, parsed, why_invalid)
    fit, why_misfit, config = False, None, None
    if valid:
        try:
            config = check_fit(parsed)
            fit = True
        except Invalid as e:
            why_misfit = str(e)
    status = res["status"]
    if status == "bad-exception":
        return "refused", f"an undocumented exception {res['error']}: {res['message'][:300]}", None
    if status == "refused":
        detail = f"{res['error']}: {_normalize_message(res['message'])}"
        if valid and fit and within_bounds(config) and not parsed["notes"]:
            return "refused although valid", None, detail
        return "refused", None, detail
    # accepted
    if not valid:
        return "accepted", f"accepted a file that is not valid safetensors ({why_invalid})", None
    if not fit:
        return "accepted", f"accepted a checkpoint that does not fit its configuration ({why_misfit})", None
    if "save_error" in res:
        return "accepted", f"accepted, but saving it back failed: {res['save_error']}", None
    with open(res["saved"], "rb") as f:
        saved_bytes = f.read()
    try:
        saved = parse_safetensors(saved_bytes)
    except Invalid as e:
        return "accepted", f"accepted, and sgx_env_save_checkpoint wrote an invalid file ({e})", None
    declared, loaded = parsed["tensors"], saved["tensors"]
    if set(declared) != set(loaded):
        return "accepted", (f"loaded tensors {sorted(set(loaded) ^ set(declared))} differ from the declared "
                            "ones"), None
    for name in declared:
        if declared[name][:2] != loaded[name][:2] or declared[name][2] != loaded[name][2]:
            return "accepted", (f"tensor {name}: loaded {loaded[name][0]} {list(loaded[name][1])} differs from "
                                f"the declared {declared[name][0]} {list(declared[name][1])} or its bytes"), None
    try:
        saved_config = declared_config(saved["metadata"])
    except Invalid as e:
        return "accepted", f"the saved configuration is unreadable: {e}", None
    if saved_config != config:
        diff = {k: (config[k], saved_config[k]) for k in config if config[k] != saved_config[k]}
        return "accepted", f"loaded configuration differs from the declared one (declared, loaded): {diff}", None
    extra_declared = {k: v for k, v in parsed["metadata"].items() if k not in CONFIG_KEYS}
    extra_saved = {k: v for k, v in saved["metadata"].items() if k not in CONFIG_KEYS}
    if extra_declared != extra_saved:
        return "accepted", "loaded metadata differs from the declared one", None
    if res.get("native_params", {}).get("max_steps_in_episode") != config["max_steps"]:
        return "accepted", (f"max_steps_in_episode is {res.get('native_params')} but the file declares "
                            f"{config['max_steps']}"), None
    ov = res.get("override")
    if ov is not None:
        v = float.fromhex(ov["value"]) if isinstance(ov["value"], str) else ov["value"]
        allowed = (math.isfinite(v) and v == round(v) and 1 <= v <= 2**31 - 1
                   and (v == 1 or config["max_steps"] != 1))
        if "bad_exception" in ov:
            return "accepted", f"max_steps_in_episode={v!r} raised an undocumented exception: {ov['bad_exception']}", None
        if "loaded" in ov and not allowed:
            return "accepted", (f"max_steps_in_episode={v!r} accepted as an override (loaded {ov['loaded']!r}) for a "
                                f"checkpoint with max_steps_in_episode {config['max_steps']}"), None
        if "loaded" in ov and ov["loaded"] != int(v):
            return "accepted", f"max_steps_in_episode={v!r} given, {ov['loaded']!r} loaded", None
        CHECKED["max_steps_in_episode override"] += 1
    if "step_bad_exception" in res:
        return "accepted", f"reset/step raised an undocumented exception: {res['step_bad_exception']}", None
    if "step_error" in res:
        return "accepted; step refused", None, _normalize_message(res["step_error"])
    st = res["step"]
    if st["max_steps"] != config["max_steps"]:
        return "accepted", f"params.max_steps_in_episode {st['max_steps']} != declared {config['max_steps']}", None
    failure = check_step(declared, config, st)
    if failure:
        return "accepted", failure, None
    if "vec_bad_exception" in res:
        return "accepted", f"VectorEnvironment raised an undocumented exception: {res['vec_bad_exception']}", None
    if "vec_error" in res:
        return "accepted; VectorEnvironment refused", None, _normalize_message(res["vec_error"])
    vec = res["vec"]
    count = vec["count"]
    obs, action, reward, final = (_f32(vec[k]).reshape(count, -1) for k in ("obs", "action", "reward", "final"))
    for r in range(count):
        row = {"obs": obs[r].tobytes().hex(), "action": action[r].tobytes().hex(), "reward": reward[r].tobytes().hex(),
               "final": final[r].tobytes().hex(), "terminated": vec["terminated"][r], "truncated": vec["truncated"][r]}
        failure = check_step(declared, config, row)
        if failure:
            return "accepted", f"VectorEnvironment of {count}, environment {r}: {failure}", None
    CHECKED["VectorEnvironment steps"] += count
    return "accepted", None, None


CHECKED = collections.Counter()  # the step's values compared with the numpy forward pass


def check_step(tensors, config, st):
    obs = _f32(st["obs"]).astype(np.float64)
    shapes = ENV_SHAPES.get(config["env_id"])
    if shapes is None:
        return None
    _, width, discrete = shapes
    action = _f32(st["action"]).astype(np.float64)
    if discrete:
        a = np.zeros(width)
        a[int(action[0])] = 1.0
    else:
        a = action
    x = np.concatenate([obs, a])
    reward = float(_f32(st["reward"])[0])
    ref, tol = forward(tensors, "reward", config, x)
    if np.all(np.isfinite(tol)) and tol[0] < 1e30 and math.isfinite(reward):
        CHECKED["reward"] += 1
        if abs(reward - ref[0]) > tol[0]:
            return f"step's reward {reward!r} differs from the declared reward network's {ref[0]!r} (tol {tol[0]:.3g})"
    if config["max_steps"] != 1:
        final = _f32(st["final"]).astype(np.float64)
        delta, tol = forward(tensors, "next_state_delta", config, x)
        if np.all(np.isfinite(tol)) and np.all(tol < 1e30) and np.all(np.isfinite(final)):
            CHECKED["next observation"] += 1
            if np.any(np.abs(final - (obs + delta)) > tol + 2.0**-22 * np.abs(final)):
                return "step's next observation differs from obs + the declared next_state_delta network's output"
        done, tol = forward(tensors, "done", config, final)
        if np.all(np.isfinite(tol)) and tol[0] < 1e30 and abs(done[0]) > tol[0] and np.all(np.isfinite(final)):
            CHECKED["termination"] += 1
            if st["terminated"] != (done[0] > 0):
                return f"step's termination {st['terminated']} differs from the declared done network ({done[0]!r})"
    # A one-step environment terminates after its step (the original's
    # is_terminal, ee0ad16) and is never truncated; a longer one is not at
    # its step limit after one step.
    if st["truncated"]:
        return f"step's truncation {st['truncated']} with max_steps_in_episode {config['max_steps']}"
    if config["max_steps"] == 1 and not st["terminated"]:
        return "the step of a one-step environment does not terminate"
    return None


def write_mutant(path, data):
    with open(path, "wb") as f:
        f.write(data)
        if isinstance(data, Sparse):
            f.truncate(data.size)


def describe_death(rc):
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exited with status {rc}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60, help="how long to fuzz (default 60)")
    ap.add_argument("--seed", type=int, default=0, help="the mutant stream (default 0)")
    ap.add_argument("--count", type=int, help="stop after this many mutants")
    ap.add_argument("--only", type=int, action="append", help="run only mutant N (repeatable), printing the backtrace")
    ap.add_argument("--lib", help="the library (default $SGX_LIB or .build/release/libsynthetic_gymnax.so)")
    ap.add_argument("--timeout", type=float, default=30,
                    help="CPU seconds one mutant may take (default 30; or 4 times that in wall-clock time)")
    ap.add_argument("--batch", type=int, default=64, help="mutants per child request batch")
    ap.add_argument("--keep", help="save failing mutants here (default: a temporary directory)")
    ap.add_argument("--no-backtrace", action="store_true",
                    help="no Swift backtrace of a crashed child (it names the function and line; ~0.3 s a crash)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main()

    lib = args.lib or os.environ.get("SGX_LIB") or os.path.join(REPO, ".build", "release", "libsynthetic_gymnax.so")
    if not os.path.isfile(lib):
        print(f"fuzz_checkpoints: no library at {lib}", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="sgx-fuzz-")
    keep = args.keep or os.path.join(workdir, "failures")
    os.makedirs(keep, exist_ok=True)
    private_lib = os.path.join(workdir, "libsynthetic_gymnax.so")
    shutil.copy2(lib, private_lib)

    seeds = load_seeds()
    budget = f"{len(args.only)} mutants" if args.only else (f"{args.count} mutants" if args.count is not None
                                                               else f"{args.seconds:g} s")
    print(f"== checkpoint fuzzer: seed {args.seed}, {budget}, library {lib} (copied to {private_lib})")
    print("   valid checkpoints mutated: " + ", ".join(s[0] for s in seeds))

    backtrace = not args.no_backtrace
    worker = None
    counts = collections.Counter()
    seconds = collections.Counter()  # the child's time per kind
    slowest = []  # (seconds, index, kind) of the slowest mutants
    outcomes = collections.Counter()
    outcome_by_kind = collections.defaultdict(collections.Counter)
    messages = collections.Counter()
    refused_valid = collections.Counter()
    notes = collections.Counter()  # accepted with a remark (not failures)
    generator_errors = []  # mutants this file failed to make (its own bugs)
    failures = []
    failure_classes = collections.Counter()
    started = time.monotonic()

    def start_worker():
        w = Worker(private_lib, workdir, backtrace=backtrace)
        line = w.readline(120)
        if not line or not line.startswith(b"READY "):
            w.kill()
            raise SystemExit(f"fuzz_checkpoints: the worker did not start: {w.stderr_tail()}")
        KNOWN_REAL_IDS.update(i for i in json.loads(line[6:]) if not i.startswith("Synthetic-"))
        return w

    def failure_class(what):
        first = what.split("\n")[0]
        first = re.sub(r"'[^']*'", "'...'", first)
        first = re.sub(r"\[[^\]]*\]", "[...]", first)
        return re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "N", first)[:200]

    def record_failure(index, kind, seed_name, data, what):
        path = os.path.join(keep, f"m{index}-{kind.split('(')[0]}.safetensors")
        write_mutant(path, data)
        failures.append((index, kind, seed_name, what, path))
        cls = failure_class(what)
        failure_classes[cls] += 1
        if not args.quiet and (failure_classes[cls] == 1 or only):
            print(f"FAIL mutant {index} ({kind} of {seed_name}): {what}\n     saved: {path}", flush=True)

    # Self-test: every unmodified seed loads, as declared.
    pending = [(-(k + 1), "seed", s[0], s[1]) for k, s in enumerate(seeds)]
    index = 0
    only = list(args.only or [])

    def next_batch():
        nonlocal index
        batch = []
        if pending:
            batch.extend(pending)
            pending.clear()
            return batch
        while len(batch) < args.batch:
            if only:
                if index >= len(only):
                    break
                i = only[index]
            else:
                if args.count is not None and index >= args.count:
                    break
                if time.monotonic() - started >= args.seconds:
                    break
                i = index
            index += 1
            try:
                kind, seed_name, data = make_mutant(args.seed, i, seeds)
            except Exception as e:  # noqa: BLE001  (a bug of this file)
                print(f"fuzz_checkpoints: mutant {i} could not be made: {type(e).__name__}: {e}", file=sys.stderr)
                generator_errors.append(i)
                continue
            batch.append((i, kind, seed_name, data))
        return batch

    try:
        while True:
            batch = next_batch()
            if not batch:
                break
            files = {}
            for i, kind, seed_name, data in batch:
                path = os.path.join(workdir, f"m{i}.safetensors")
                write_mutant(path, data)
                files[i] = path
            queue = list(batch)
            while queue:
                if worker is None:
                    worker = start_worker()
                for i, kind, seed_name, data in queue:
                    ok = worker.send({"i": i, "path": files[i], "save": files[i] + ".saved",
                                      "key": [i & 0xFFFFFFFF, 12345], "action_seed": abs(i),
                                      "policy": is_policy(seed_name)})
                    if not ok:
                        break
                done_upto = 0
                last = time.monotonic()
                while done_upto < len(queue):
                    i, kind, seed_name, data = queue[done_upto]
                    line = worker.readline(args.timeout)
                    if line is not None and line == f"S {i}".encode():
                        line = worker.readline(args.timeout)
                    if line is None:  # hang
                        worker.kill()
                        worker = None
                        counts[kind.split("(")[0]] += 1
                        outcomes["HANG"] += 1
                        outcome_by_kind[kind.split("(")[0]]["HANG"] += 1
                        record_failure(i, kind, seed_name, data,
                                       f"no answer within {args.timeout:g} s of CPU time (hang)")
                        done_upto += 1
                        break
                    if line == b"":  # death
                        try:
                            rc = worker.proc.wait(timeout=30)
                        except subprocess.TimeoutExpired:  # closed its output but lives on
                            worker.proc.kill()
                            rc = worker.proc.wait()
                        where, report = worker.crash_report()
                        worker.stderr.close()
                        worker = None
                        counts[kind.split("(")[0]] += 1
                        death = describe_death(rc)
                        outcomes[f"DIED ({death})"] += 1
                        outcome_by_kind[kind.split("(")[0]]["DIED"] += 1
                        record_failure(i, kind, seed_name, data, f"child {death}" + (f": {where}" if where else "")
                                       + (f"\n{report}" if only else ""))
                        done_upto += 1
                        break
                    res = json.loads(line)
                    assert res["i"] == i, (res["i"], i)
                    k = kind.split("(")[0]
                    counts[k] += 1
                    now = time.monotonic()
                    seconds[k] += now - last
                    slowest.append((now - last, i, kind))
                    slowest.sort(reverse=True)
                    del slowest[5:]
                    last = now
                    try:
                        outcome, failure, detail = judge(data, res, seed_name)
                    except Exception as e:  # noqa: BLE001  (a bug of this file: say so, go on)
                        outcome, failure, detail = "unjudged", f"the fuzzer's judge raised {type(e).__name__}: {e}", None
                    if i < 0 and outcome != "accepted":
                        failure = failure or f"the unmodified checkpoint {seed_name} was {outcome}: {detail}"
                    outcomes[outcome] += 1
                    outcome_by_kind[k][outcome] += 1
                    if detail and outcome.startswith("refused"):
                        (refused_valid if outcome == "refused although valid" else messages)[detail] += 1
                    elif detail:
                        notes[f"{outcome}: {detail[:120]}"] += 1
                    if failure:
                        outcomes["FAILED"] += 1
                        record_failure(i, kind, seed_name, data, failure)
                    if only and not args.quiet:
                        print(f"mutant {i} ({kind} of {seed_name}): {outcome}"
                              + (f": {detail}" if detail else "") + (f"; {failure}" if failure else ""))
                    for p in (files[i], files[i] + ".saved"):
                        if os.path.exists(p):
                            os.unlink(p)
                    done_upto += 1
                queue = queue[done_upto:]
    finally:
        if worker is not None:
            worker.close()

    elapsed = time.monotonic() - started
    total = sum(counts.values())
    mutants = total - counts["seed"]
    print(f"ran {mutants} mutants in {elapsed:.0f} s (+{counts['seed']} unmodified checkpoints), by kind:")
    for k in _KINDS + ["seed"]:
        if counts[k]:
            by = ", ".join(f"{o} {c}" for o, c in outcome_by_kind[k].most_common())
            print(f"   {k:<20} {counts[k]:>6} {seconds[k]:6.1f} s  ({by})")
    print("outcomes: " + ", ".join(f"{o} {c}" for o, c in outcomes.most_common()))
    print("slowest answers: " + ", ".join(f"mutant {i} ({kind.split('(')[0]}) {t:.1f} s" for t, i, kind in slowest))
    print("accepted ones: loaded tensors and configuration compared with the declared ones; the step compared "
          "with a numpy forward pass: " + ", ".join(f"{k} {c}" for k, c in CHECKED.items()))
    print("refusals by message (most frequent first):")
    top = 10 if args.quiet else 30
    for msg, c in messages.most_common(top):
        print(f"   {c:>6}  {msg}")
    if len(messages) > top:
        print(f"   ... and {len(messages) - top} other messages ({sum(messages.values())} refusals in all)")
    if notes:
        print("accepted with remarks (not failures):")
        for msg, c in notes.most_common(10):
            print(f"   {c:>6}  {msg}")
    if refused_valid:
        print("refused although valid and fitting (not failures):")
        for msg, c in refused_valid.most_common(10):
            print(f"   {c:>6}  {msg}")
    if generator_errors:
        print(f"FAILED: the fuzzer could not make mutants {generator_errors[:10]} (a bug of this file)")
        if not failures:
            return 1
    if failures:
        print(f"FAILED: {len(failures)} mutants, in {len(failure_classes)} classes:")
        for cls, c in failure_classes.most_common():
            example = next(f for f in failures if failure_class(f[3]) == cls)
            kinds = collections.Counter(f[1].split("(")[0] for f in failures if failure_class(f[3]) == cls)
            print(f"   {c:>5} x {example[3].splitlines()[0]}\n           kinds: "
                  + ", ".join(f"{k} {n}" for k, n in kinds.most_common())
                  + f"\n           e.g. mutant {example[0]} ({example[1]} of {example[2]}): {example[4]}"
                  f"  (replay: --seed {args.seed} --only {example[0]})")
        print(f"failing mutants saved in {keep}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print("no failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
