"""Scale benchmark: a thin wrapper so `python bench/scale.py ...` keeps working; the code lives in
evaluation/scale_bench.py (also `assistant bench scale ...`). See docs/scaling.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation.scale_bench import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
