"""Per-module mutation score of cockpit/core from mutmut's results (run by `make mutate`).

Reads mutants/cockpit/core/*.py.meta (mutmut 3) and prints, per module, killed / survived /
no tests / equivalent and the score: killed out of the non-equivalent mutants. The accepted
equivalent mutants are listed, each with its reason, in tests/core/EQUIVALENT_MUTANTS.md.
Exits 1 when a module is below the bar, a mutant has no test, or a listed equivalent was killed
(the list is stale). Usage: python tests/core/mutation_score.py [--min 95] [--survivors]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
META = ROOT / "mutants" / "cockpit" / "core"
EQUIVALENTS = Path(__file__).with_name("EQUIVALENT_MUTANTS.md")
# mutmut 3's exit codes (mutmut/stats.py): 1 and 3 kill, 0 survives, 5 and 33 mean no test ran it.
KILLED, SURVIVED, NO_TESTS, TIMEOUT = {1, 3}, {0}, {5, 33}, {24, -24, 36, 152, 255}


def equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant name -> the mutated code it must contain, from list items "- `NAME` `CODE` — why"."""
    if not path.exists():
        return {}
    return dict(re.findall(r"^\s*[-*]\s+`(cockpit\.core\.[\w.]+__mutmut_\d+)`\s+`([^`]+)`", path.read_text(), re.M))


def mutant_source(module: str, name: str) -> str:
    """The mutated function's text in mutmut's copy of the module ('' when it is not there)."""
    lines = (META / f"{module}.py").read_text().splitlines()
    short = name.rsplit(".", 1)[1]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(f"def {short}(")), None)
    if start is None:
        return ""
    indent = len(lines[start]) - len(lines[start].lstrip())
    body = [lines[start]]
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith(")"):
            break  # the next statement at the def's own level ends the function
        body.append(line)
    return "\n".join(body)


def status(code: int | None) -> str:
    if code in KILLED or code in TIMEOUT:  # a mutant that hangs the tests is caught too
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "not checked" if code is None else f"other({code})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=95.0, help="the bar per module, in percent")
    parser.add_argument("--survivors", action="store_true", help="list the survivors not accepted as equivalent")
    args = parser.parse_args(argv)

    metas = sorted(META.glob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {META.relative_to(ROOT)}: run `make mutate`", file=sys.stderr)
        return 1
    accepted = equivalents()
    seen: set[str] = set()
    failed = False
    survivors: list[str] = []
    total = Counter()
    print(f"{'module':<16}{'mutants':>8}{'killed':>8}{'survived':>10}{'no tests':>10}{'equiv.':>8}{'score':>9}")
    for meta in metas:
        module = meta.name.removesuffix(".py.meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue  # nothing to mutate (a package's __init__)
        counts = Counter()
        for name, code in codes.items():
            st = status(code)
            if name in accepted:
                seen.add(name)
                if accepted[name] not in mutant_source(module, name):
                    print(f"stale equivalent (the mutant is not `{accepted[name]}` any more): {name}", file=sys.stderr)
                    failed = True
                elif st == "killed":
                    print(f"stale equivalent (now killed): {name}", file=sys.stderr)
                    failed = True
                else:
                    st = "equivalent"
            if st == "survived":
                survivors.append(name)
            counts[st] += 1
        total.update(counts)
        scored = len(codes) - counts["equivalent"]
        score = 100.0 * counts["killed"] / scored if scored else 100.0
        bad = score < args.min or counts["no tests"] or counts["not checked"]
        failed = failed or bool(bad)
        print(
            f"{module:<16}{len(codes):>8}{counts['killed']:>8}{counts['survived']:>10}{counts['no tests']:>10}"
            f"{counts['equivalent']:>8}{score:>8.1f}%" + ("  <- below the bar" if bad else "")
        )
        other = {k: v for k, v in counts.items() if k not in ("killed", "survived", "no tests", "equivalent")}
        if other:
            print(f"{'':<16}also: {dict(other)}")
    scored = sum(total.values()) - total["equivalent"]
    print(
        f"{'all':<16}{sum(total.values()):>8}{total['killed']:>8}{total['survived']:>10}{total['no tests']:>10}"
        f"{total['equivalent']:>8}{100.0 * total['killed'] / max(scored, 1):>8.1f}%"
    )
    for name in sorted(set(accepted) - seen):
        print(f"listed equivalent that mutmut no longer generates: {name}", file=sys.stderr)
        failed = True
    if args.survivors and survivors:
        print("survivors (mutmut show NAME):")
        for name in sorted(survivors):
            print(f"  {name}")
    print(f"bar: {args.min:g} % of non-equivalent mutants killed in every module, none without tests: "
          + ("NOT MET" if failed else "met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
