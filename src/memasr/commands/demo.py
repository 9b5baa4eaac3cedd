"""``memasr demo``: the main job on the bundled default.

With a bundled trained model it transcribes the bundled examples; until one
exists it prints the analyzer's comparison of paper-baseline against
paper-optimized, which is the product's core claim.
"""
from __future__ import annotations

import argparse
from importlib import resources

from memasr.memory import analyze, extract_workload, load_profile, parse_schedule
from memasr.memory.report import compare_table, component_table
from memasr.model import load_preset


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="run the main demo on the bundled default")
    p.set_defaults(func=run)
    return p


def bundled_model_dir():
    path = resources.files("memasr") / "pretrained" / "default"
    return path if path.is_dir() and (path / "model.pt").is_file() else None


def run(args: argparse.Namespace) -> int:
    profile = load_profile()
    base_w = extract_workload(load_preset("paper-baseline"))
    opt_w = extract_workload(load_preset("paper-optimized"))
    base = analyze(base_w, profile, parse_schedule(base_w.default_schedule))
    opt = analyze(opt_w, profile, parse_schedule(opt_w.default_schedule))
    print(component_table(base))
    print()
    print(component_table(opt))
    print()
    print(compare_table(base, opt))
    if bundled_model_dir() is None:
        print("\n(no trained model is bundled yet: `memasr demo` shows the analyzer comparison)")
    return 0
