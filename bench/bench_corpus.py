"""What a loaded text costs the server: the memory a corpus keeps and the peak while it is read, for a 19 MB
upload, against the former layout (the text kept as a Python string beside int64 codes, encoded at once).

    python bench/bench_corpus.py [--mb 19]

Each layout is measured in a fresh Python process: the arrays it keeps, the RSS it keeps once freed memory is
handed back (as the server's sweep does), and the peak (``VmHWM``) while reading, above the upload's bytes
already in memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA  # noqa: E402

CHILD = r"""
import ctypes, gc, json, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from charlm.data.vocab import Corpus, Vocab, decode_text

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024

anna = Path({corpus!r}).read_text(encoding="utf-8")
data = (anna * ({size} // len(anna) + 1))[:{size}].encode("utf-8")
del anna
gc.collect()
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS:")
if {layout!r} == "codes":
    kept = Corpus.from_source(data)
    own = kept.data.nbytes
else:
    text = decode_text(data)
    kept = (text, Vocab.from_text(text).encode(text))
    own = sys.getsizeof(text) + kept[1].nbytes
peak = status("VmHWM:") - before
del data
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)  # what was freed goes back, as the server's sweep hands it back
rss = status("VmRSS:") - before + {size} / 2**20  # the upload's bytes, freed above, are not the corpus's
print(json.dumps({{"own": own / 2**20, "kept": rss, "peak": peak}}))
"""


def measure(layout: str, size: int) -> dict:
    code = CHILD.format(root=str(ROOT), corpus=str(CORPORA / "anna.txt"), size=size, layout=layout)
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=19.0)
    args = parser.parse_args()
    size = int(args.mb * 1e6)
    print(f"a {size / 1e6:.0f} MB text (anna.txt repeated), read as an upload is")
    print("layout                                  its arrays MB   kept (RSS) MB   peak above the upload's bytes, MB")
    for layout, name in (("codes", "one small code a character (now)"), ("string", "string + int64 codes (before)")):
        m = measure(layout, size)
        print(f"{name:<40} {m['own']:12.0f}   {m['kept']:13.0f}   {m['peak']:7.0f}")


if __name__ == "__main__":
    main()
