#!/usr/bin/env python3
"""Checks the checksum of a safetensors file written by moduli (checkpoint.safetensors,
model.safetensors, initial.safetensors, files of `moduli export`).

    python Tools/verify_checksum.py FILE [FILE ...]

The checksum is the metadata value `checksum` = "fnv1a64-file:<16 hex digits>": the 64-bit FNV-1a
hash of every byte of the file (the 8-byte header length, the JSON header, the data), with the
checksum's own 16 hex digits read as the ASCII digit "0". The header is compact JSON, so the
checksum appears in it as the bytes `"checksum":"fnv1a64-file:` + digits + `"`, exactly once.
Files of earlier moduli versions carry "fnv1a64:<16 hex digits>", the same hash of the data section alone.
Exit status 0 when every file matches, 1 otherwise. Needs only the standard library (pure-Python
hashing runs at a few MB/s).
"""
import json
import sys

OFFSET_BASIS = 0xCBF29CE484222325
PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def fnv1a64(data, h=OFFSET_BASIS):
    for b in data:
        h = ((h ^ b) * PRIME) & MASK
    return h


def check(path):
    """(ok, message) for the file at path."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        return False, "shorter than 8 bytes"
    n = int.from_bytes(raw[:8], "little")
    if 8 + n > len(raw):
        return False, f"header length {n} exceeds the file"
    header = json.loads(raw[8:8 + n])
    stored = (header.get("__metadata__") or {}).get("checksum")
    if stored is None:
        return False, "no checksum in the metadata"
    if stored.startswith("fnv1a64-file:"):
        marker = b'"checksum":"' + stored.encode() + b'"'
        at = raw.find(marker, 8, 8 + n)
        if at < 0 or raw.find(marker, at + 1, 8 + n) >= 0:
            return False, "the header does not hold the checksum exactly once in compact form"
        digits = at + len(marker) - 17
        h = fnv1a64(raw[digits + 16:], fnv1a64(b"0" * 16, fnv1a64(raw[:digits])))
        computed = "fnv1a64-file:%016x" % h
        what = "the whole file"
    elif stored.startswith("fnv1a64:"):
        computed = "fnv1a64:%016x" % fnv1a64(raw[8 + n:])
        what = "the data section only (an earlier moduli's file)"
    else:
        return False, f"unknown checksum {stored}"
    if computed != stored:
        return False, f"checksum mismatch (stored {stored}, computed {computed}): the file was changed after it was written"
    return True, f"checksum matches ({what})"


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ok = True
    for path in sys.argv[1:]:
        good, message = check(path)
        print(f"{path}: {message}")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
