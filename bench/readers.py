"""Reader memory and speed: peak memory while streaming each source format, at two file sizes.

    python -m bench.readers [--mb 50 200]

Builds files of about N MB per format in bench/.cache from real messages (Banking77 test, MASSIVE
French) and TWCS-style threads, then reads each in a fresh process with ``read_records`` (parse only,
no store) and reports records/s and peak resident memory. A streaming reader's peak does not grow
with the file; the TWCS reader keeps one id per tweet to rebuild threads, so its peak grows with the
tweet count (bounded by ids, not by text). Writes bench/results/readers.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache" / "readers"
RESULTS = ROOT / "bench" / "results"
FORMATS = ("jsonl", "csv", "twcs", "conversations", "whatsapp")


def _texts() -> list[str]:
    with (DATA / "banking77" / "test.csv").open() as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    with (DATA / "massive" / "fr-FR_train.jsonl").open() as fh:
        texts += [json.loads(line)["utt"] for line, _ in zip(fh, range(3000), strict=False)]
    return texts


def build(fmt: str, mb: int) -> Path:
    path = (
        CACHE
        / f"{fmt}-{mb}mb"
        / {
            "jsonl": "m.jsonl",
            "csv": "m.csv",
            "twcs": "t.csv",
            "conversations": "c.json",
            "whatsapp": "w.txt",
        }[fmt]
    )
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    texts, rng, limit = _texts(), random.Random(0), mb * 1_000_000
    with path.open("w", encoding="utf-8", newline="") as fh:
        i = 0
        if fmt == "csv":
            fh.write("conversation_id,message_id,sent_at,text\n")
        if fmt == "twcs":
            fh.write("tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n")
        if fmt == "conversations":
            fh.write("[")
        while fh.tell() < limit:
            t = rng.choice(texts)
            if fmt == "jsonl":
                fh.write(
                    json.dumps({"conversation_id": f"c{i // 4}", "message_id": f"m{i}", "text": t}) + "\n"
                )
            elif fmt == "csv":
                fh.write(f'c{i // 4},m{i},2026-10-{1 + i % 28:02d}T10:00:00Z,"{t.replace(chr(34), "")}"\n')
            elif fmt == "twcs":
                parent = str(i - 1) if i % 4 else ""
                who, inbound = ("Acme", "False") if i % 2 else (str(1000 + i), "True")
                clean = t.replace('"', "")
                fh.write(f'{i},{who},{inbound},Wed Oct 11 06:55:44 +0000 2017,"@Acme {clean}",,{parent}\n')
            elif fmt == "conversations":
                turns = [["customer", rng.choice(texts)], ["agent", "Let me check."], ["customer", t]]
                fh.write(("," if i else "") + json.dumps({"conversation_id": f"c{i}", "turns": turns}))
            else:
                who = "Acme" if i % 3 == 0 else "Client"
                fh.write(f"{1 + i % 28:02d}/10/2026 {i % 24:02d}:{i % 60:02d} - {who}: {t}\n")
            i += 1
        if fmt == "conversations":
            fh.write("]")
    return path


def measure(path: Path, fmt: str) -> dict:
    code = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from pipeline.sources import read_records\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter(); n = bad = 0\n"
        f"for r in read_records(Path({str(path)!r}), {fmt!r}):\n"
        "    n += 1; bad += r.data is None\n"
        "dt = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(n, bad, dt, base, peak)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    n, bad, dt, base, peak = out.split()
    return {
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "records": int(n),
        "unreadable": int(bad),
        "records_per_s": round(int(n) / float(dt)),
        "peak_mb_over_import": round((int(peak) - int(base)) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, nargs="+", default=[50, 200])
    args = parser.parse_args()
    report = {fmt: {f"{mb} MB": measure(build(fmt, mb), fmt) for mb in args.mb} for fmt in FORMATS}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "readers.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'format':<14} {'size':>8} {'records':>10} {'rec/s':>9} {'peak MB':>8}")
    for fmt, sizes in report.items():
        for r in sizes.values():
            cells = (r["file_mb"], r["records"], r["records_per_s"], r["peak_mb_over_import"])
            print(f"{fmt:<14} {cells[0]:>8} {cells[1]:>10} {cells[2]:>9} {cells[3]:>8}")


if __name__ == "__main__":
    main()
