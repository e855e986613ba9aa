#!/usr/bin/env python3
"""Runs Binaryen's wasm-opt on the core module inside a WebAssembly component.

Binaryen does not read components (binaryen issue 6728), but rustc's wasm32-wasip2 output
is a component wrapping one large core module (relink) and two small shim modules
(wit-component's indirect-call fixups). The wrapper refers to the core module's imports and
exports by name only, and wasm-opt keeps names, so the module can be taken out, optimised
and put back in place: the component's own sections are copied byte for byte.

    optimize.py WASM_OPT COMPONENT [WASM_OPT_FLAG...]    (rewrites COMPONENT in place)
"""

import os
import subprocess
import sys
import tempfile

PREAMBLE = b"\0asm\x0d\x00\x01\x00"  # a component, binary format version 0x0d
CORE_MODULE = 1  # component section id of a nested core module

# rustc's wasm32 targets enable these by default (LLVM's generic CPU); the module is
# stripped, so there is no target_features section for Binaryen to read them from.
FEATURES = [
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-call-indirect-overlong",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
]


def leb128(data, at):
    value = shift = 0
    while True:
        if at >= len(data) or shift > 28:
            sys.exit("optimize.py: malformed section size")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def encode_leb128(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sections(data):
    """(id, start, payload start, end) of every top-level section."""
    at, out = len(PREAMBLE), []
    while at < len(data):
        size, payload = leb128(data, at + 1)
        end = payload + size
        if end > len(data):
            sys.exit("optimize.py: section past the end of the component")
        out.append((data[at], at, payload, end))
        at = end
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    wasm_opt, path, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = open(path, "rb").read()
    if not data.startswith(PREAMBLE):
        sys.exit(f"optimize.py: {path} is not a component")
    modules = [s for s in sections(data) if s[0] == CORE_MODULE]
    if not modules:
        sys.exit(f"optimize.py: {path} has no core module")
    _, start, payload, end = max(modules, key=lambda s: s[3] - s[2])
    with tempfile.TemporaryDirectory() as tmp:
        core, optimized = os.path.join(tmp, "core.wasm"), os.path.join(tmp, "opt.wasm")
        with open(core, "wb") as f:
            f.write(data[payload:end])
        subprocess.run([wasm_opt, *flags, *FEATURES, core, "-o", optimized], check=True)
        new = open(optimized, "rb").read()
    out = data[:start] + bytes([CORE_MODULE]) + encode_leb128(len(new)) + new + data[end:]
    if len([s for s in sections(out) if s[0] == CORE_MODULE]) != len(modules):
        sys.exit("optimize.py: the rewritten component lost a module")
    with open(path, "wb") as f:
        f.write(out)
    print(f"{path}: core module {end - payload} -> {len(new)} bytes (wasm-opt {' '.join(flags)})")


if __name__ == "__main__":
    main()
