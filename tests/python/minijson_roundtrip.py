"""Cross-checks our MiniJSON against the Python reference (PyPI `minijson` 3.1.1).

Reads lines of hex on stdin, each one document written by the Rust `minijson` crate. For each it
prints one JSON line: {"value": <the document as the reference decodes it, in the test vectors'
tagged JSON>, "reencoded": <hex of the reference's own encoding of it, floats as doubles>}.
"""
import json
import sys

import minijson

encoder = minijson.MiniJSONEncoder(use_double=True)


def tagged(v):
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, dict):
        if all(isinstance(k, str) and len(k.encode()) <= 255 for k in v):
            return {k: tagged(x) for k, x in v.items()}
        return {"$map": [[tagged(k), tagged(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return [tagged(x) for x in v]
    return v


for line in sys.stdin:
    document = minijson.loads(bytes.fromhex(line.strip()))
    print(json.dumps({"value": tagged(document), "reencoded": encoder.encode(document).hex()}), flush=True)
