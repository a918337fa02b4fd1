"""Time the Python reference (PyPI `minijson` 3.1.1, its compiled Cython build) on the bench corpus.

Install: pip install "cython<3" setuptools wheel && pip install --no-build-isolation minijson==3.1.1
Run:     python3 minijson/benches/reference.py
Prints one line per document and direction: the median time of one call in microseconds.
"""
import json
import pathlib
import statistics
import timeit

import minijson

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "bench-corpus"

for name in ("pathpoints", "logs", "orders"):
    mj = (CORPUS / f"{name}.mj").read_bytes()
    doc = json.loads((CORPUS / f"{name}.json").read_text())
    for direction, fn in (("decode", lambda: minijson.loads(mj)), ("encode", lambda: minijson.dumps(doc))):
        number = 50
        runs = timeit.repeat(fn, number=number, repeat=15)
        per_call_us = statistics.median(runs) / number * 1e6
        print(f"{direction}/{name}: {per_call_us:.1f} us")
