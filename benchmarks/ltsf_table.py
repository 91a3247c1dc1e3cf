"""Merge ``benchmarks/ltsf.py`` results and print the tables of docs/benchmarks.md.

``ltsf.py`` writes one JSON per (model, lookback); runs split by horizon (``--tag _H96``
and so on, one process each) are merged here into the same one-file-per-(model, lookback)
form, so the tables read one layout::

    python benchmarks/ltsf_table.py DIR [--merge-to OUT_DIR]

prints, per lookback, MSE / MAE (mean ± std over seeds) of every model found beside the
published reference, then the target-OT table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.ltsf import PUBLISHED, _fmt, markdown  # noqa: E402

ORDER = ["s4", "s5", "mamba", "hybrid", "rlinear", "linear", "seasonal_naive", "arima",
         "auto_arima"]
HORIZONS = ["96", "192", "336", "720"]


def load(paths: list[Path]) -> dict[tuple[str, int], dict]:
    """Results by (model, lookback); per-horizon files of one pair are merged."""
    merged: dict[tuple[str, int], dict] = {}
    for path in sorted(paths):
        r = json.loads(path.read_text())
        if "model" not in r or "horizons" not in r:  # e.g. an exploration log
            continue
        key = (r["model"], int(r["lookback"]))
        if key not in merged:
            merged[key] = r
            continue
        into = merged[key]
        for H, entry in r["horizons"].items():
            if entry.get("runs") or H not in into["horizons"]:
                into["horizons"][H] = entry
        into.setdefault("commands", [into["command"]]).append(r["command"])
        into["n_seeds"] = max(into["n_seeds"], r["n_seeds"])
    return merged


def cell(entry: dict | None, key: str = "mse", key2: str = "mae") -> str:
    s = (entry or {}).get("summary", {})
    return "—" if key not in s else f"{_fmt(s, key)} / {_fmt(s, key2)}"


def tables(results: dict[tuple[str, int], dict]) -> str:
    out = []
    for L in sorted({k[1] for k in results}, reverse=True):
        models = [m for m in ORDER if (m, L) in results and m not in ("arima", "auto_arima")]
        # SeasonalNaive does not depend on the lookback; show it in every table.
        if "seasonal_naive" not in models and any(k[0] == "seasonal_naive" for k in results):
            models.append("seasonal_naive")
        pub_name, pub = PUBLISHED.get(L, ("", {}))
        out += [f"Lookback {L} (MSE / MAE, all 7 channels, scaled data; mean ± std over "
                "seeds where several ran)", "",
                "| H | " + " | ".join(models) + f" | {pub_name} (published) |",
                "| ---: |" + " ---: |" * (len(models) + 1)]
        for H in HORIZONS:
            row = []
            for m in models:
                r = results.get((m, L)) or next(v for k, v in results.items() if k[0] == m)
                row.append(cell(r["horizons"].get(H)))
            p = pub.get(int(H))
            out.append(f"| {H} | " + " | ".join(row) +
                       f" | {'' if p is None else f'{p[0]:.3f} / {p[1]:.3f}'} |")
        out.append("")
    cols = [(m, L) for (m, L) in sorted(results, key=lambda k: (ORDER.index(k[0]), -k[1]))]
    out += ["Target OT (MSE / MAE on the scaled OT)", "",
            "| H | " + " | ".join(f"{m} L{L}" for m, L in cols) + " |",
            "| ---: |" + " ---: |" * len(cols)]
    for H in HORIZONS:
        out.append(f"| {H} | " + " | ".join(
            cell(results[k]["horizons"].get(H), "ot_mse", "ot_mae") for k in cols) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", nargs="+", help="directories holding ltsf_*.json")
    p.add_argument("--merge-to", default=None,
                   help="write the merged per-(model, lookback) JSON and markdown here")
    args = p.parse_args(argv)
    paths = [f for d in args.dir for f in Path(d).glob("ltsf_*.json")]
    results = load(paths)
    if args.merge_to:
        out = Path(args.merge_to)
        out.mkdir(parents=True, exist_ok=True)
        for (m, L), r in results.items():
            (out / f"ltsf_{m}_L{L}.json").write_text(json.dumps(r, indent=1, default=str))
            (out / f"ltsf_{m}_L{L}.md").write_text(markdown(r))
    print(tables(results))


if __name__ == "__main__":
    main()
