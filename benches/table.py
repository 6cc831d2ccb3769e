#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run as the Markdown tables of
docs/benchmarks.md, with same-run ratios and the targets of issue 8 checked.

    cargo bench --bench tokens && cargo bench --bench passwords && python3 benches/table.py

Reads target/criterion/<group>/<function>/new/estimates.json (criterion's own output);
CARGO_TARGET_DIR is honoured.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRITERION = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"


def median_ns(group, function):
    path = CRITERION / group / function / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def fmt(ns):
    if ns is None:
        return "not run"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3f} µs"
    return f"{ns:.1f} ns"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "n/a"


def main():
    m = {}
    for group in ["tokens_issue", "tokens_verify", "tokens_issue_os_rng", "tokens_reject", "tokens_parse",
                  "tokens_parts", "passwords", "workflow_invite_accept", "workflow_invite_accept_parts",
                  "workflow_reset_request",
                  "store_token_cycle", "batch_create_invite_10000", "dispatch_drain_10000", "accept_concurrent"]:
        folder = CRITERION / group
        if folder.is_dir():
            for function in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "report"):
                m[(group, function)] = median_ns(group, function)
    if not m:
        sys.exit(f"no criterion results under {CRITERION}: run `cargo bench --bench tokens` first")

    for group in ["tokens_issue", "tokens_verify"]:
        admit, floor = m.get((group, "admit")), m.get((group, "floor"))
        print(f"\n`{group}` | median | ÷ floor | ÷ admit\n---|---:|---:|---:")
        for function in ["admit", "floor", "latchkey", "jsonwebtoken_hs256"]:
            value = m.get((group, function))
            print(f"{function} | {fmt(value)} | {ratio(value, floor)} | {ratio(value, admit)}")

    rows = [("tokens_issue_os_rng", f) for f in ["admit", "floor"]]
    rows += [("tokens_reject", f) for f in ["malformed", "wrong_verifier", "wrong_length"]]
    rows += [("tokens_parse", f) for f in ["admit_valid", "admit_malformed"]]
    rows += [("tokens_parts", f) for f in ["thread_rng_32_bytes", "os_rng_32_bytes", "sha256_16_bytes",
                                           "selector_lookup"]]
    print("\nbenchmark | median\n---|---:")
    for key in rows:
        print(f"{key[0]}/{key[1]} | {fmt(m.get(key))}")
    passwords = sorted(f for (g, f) in m if g == "passwords")
    if passwords:
        print("\n`passwords` (Argon2id, m = 19 MiB, t = 2, p = 1) | median\n---|---:")
        for function in passwords:
            print(f"{function} | {fmt(m[('passwords', function)])}")

    for group in ["workflow_invite_accept", "workflow_reset_request"]:
        functions = sorted(f for (g, f) in m if g == group)
        if functions:
            print(f"\n`{group}` | median\n---|---:")
            for function in functions:
                print(f"{function} | {fmt(m[(group, function)])}")
    parts = lambda f: m.get(("workflow_invite_accept_parts", f))
    whole = parts("sqlite_production_whole")
    if whole:
        hash_ns = parts("argon2id_hash_default")
        print("\n`workflow_invite_accept_parts` (SQLite) | median | share of the production whole\n---|---:|---:")
        for function in ["argon2id_hash_default"] + [f"sqlite_{p}_{part}" for p in ["production", "cheapest"]
                                                      for part in ["whole", "in_store", "outside_store"]]:
            print(f"{function} | {fmt(parts(function))} | {ratio(parts(function), whole)}")
        outside_cheap = parts("sqlite_cheapest_outside_store")
        outside_prod = parts("sqlite_production_outside_store")
        if outside_cheap:
            print(f"\noverhead outside Argon2 and the store, measured with the cheapest parameters: "
                  f"{fmt(outside_cheap)} = {outside_cheap / whole:.1%} of the production invite → accept")
        if outside_prod and hash_ns:
            rest = outside_prod - hash_ns
            print(f"production: outside the store {fmt(outside_prod)} − one hash {fmt(hash_ns)} = {fmt(rest)} "
                  f"= {rest / whole:.1%} of the whole (a difference of two noisy medians)")

    for backend in ["memory", "sqlite"]:
        known, unknown = m.get(("workflow_reset_request", f"{backend}_known")), m.get(
            ("workflow_reset_request", f"{backend}_unknown"))
        if known and unknown:
            print(f"\nself-service reset on {backend}: known ÷ unknown = {ratio(known, unknown)}")

    for group in ["store_token_cycle", "batch_create_invite_10000"]:
        functions = sorted(f for (g, f) in m if g == group)
        if functions:
            print(f"\n`{group}` | median\n---|---:")
            for function in functions:
                print(f"{function} | {fmt(m[(group, function)])}")
    drains = sorted(f for (g, f) in m if g == "dispatch_drain_10000")
    if drains:
        print("\n`dispatch_drain_10000` | median | mails/s\n---|---:|---:")
        for function in drains:
            ns = m[("dispatch_drain_10000", function)]
            print(f"{function} | {fmt(ns)} | {10_000 / (ns / 1e9):,.0f}")
    hash_ns = m.get(("accept_concurrent", "argon2id_hash_default"))
    plain_ns = m.get(("accept_concurrent", "argon2_crate_hash_password"))
    cores = os.cpu_count() or 1
    if hash_ns:
        bound = cores / (hash_ns / 1e9)
        print(f"\none hash {fmt(hash_ns)}; {cores} cores ÷ one hash = {bound:.1f} accepts/s")
        if plain_ns:
            print(f"one hash by the argon2 crate's plain call {fmt(plain_ns)}; "
                  f"{cores} cores ÷ that = {cores / (plain_ns / 1e9):.1f}/s")
        threads = m.get(("accept_concurrent", f"argon2id_hash_default_x{cores}_threads"))
        if threads:
            print(f"{cores} hashes on {cores} threads at once: {fmt(threads)}, "
                  f"{cores / (threads / 1e9):.1f} hashes/s ({cores / (threads / 1e9) / bound:.2f} of that bound)")
        paired_path = CRITERION / "accept_concurrent" / "paired_hash_ns.json"
        paired = json.loads(paired_path.read_text()) if paired_path.exists() else {}
        print("\n`accept_concurrent` | median | accepts/s | ÷ (cores ÷ hash) | hash beside it | ÷ (cores ÷ that)"
              "\n---|---:|---:|---:|---:|---:")
        for n in [1, 2, 4, 8]:
            ns = m.get(("accept_concurrent", f"memory_{n}"))
            if ns:
                rate = n / (ns / 1e9)
                beside = sorted(paired.get(f"memory_{n}", []))
                near = beside[len(beside) // 2] if beside else None
                near_ratio = f"{rate / (cores / (near / 1e9)):.2f}" if near else "n/a"
                print(f"memory_{n} | {fmt(ns)} | {rate:.1f} | {rate / bound:.2f} | {fmt(near)} | {near_ratio}")

    missing = []

    def get(g, f):
        value = m.get((g, f))
        if value is None:
            missing.append((g, f))
            return float("nan")
        return value

    def batch_under_2s():
        runs = [v for (g, f), v in m.items() if g == "batch_create_invite_10000" and v]
        if not runs:
            missing.append(("batch_create_invite_10000", "*"))
        return all(v < 2e9 for v in runs)

    def accept_every_n():
        bound = 0.9 * cores / (get("accept_concurrent", "argon2id_hash_default") / 1e9)
        return all(n / (get("accept_concurrent", f"memory_{n}") / 1e9) >= bound for n in [2, 4, 8])

    checks = [
        ("issue ≤ 1.2 × floor", lambda: get("tokens_issue", "admit") <= 1.2 * get("tokens_issue", "floor")),
        ("verify ≤ 1.2 × floor", lambda: get("tokens_verify", "admit") <= 1.2 * get("tokens_verify", "floor")),
        ("issue < latchkey", lambda: get("tokens_issue", "admit") < get("tokens_issue", "latchkey")),
        ("verify < latchkey", lambda: get("tokens_verify", "admit") < get("tokens_verify", "latchkey")),
        ("issue ≥ 5 × faster than jsonwebtoken",
         lambda: get("tokens_issue", "jsonwebtoken_hs256") >= 5 * get("tokens_issue", "admit")),
        ("verify ≥ 5 × faster than jsonwebtoken",
         lambda: get("tokens_verify", "jsonwebtoken_hs256") >= 5 * get("tokens_verify", "admit")),
        ("malformed < 50 ns", lambda: get("tokens_reject", "malformed") < 50),
        ("wrong verifier ≤ valid (+5 % for noise)",
         lambda: get("tokens_reject", "wrong_verifier") <= 1.05 * get("tokens_verify", "admit")),
        ("workflow overhead outside Argon2 and the store < 10 % of invite → accept (SQLite)",
         lambda: get("workflow_invite_accept_parts", "sqlite_cheapest_outside_store")
         < 0.1 * get("workflow_invite_accept_parts", "sqlite_production_whole")),
        ("batch of 10,000 < 2 s (each store run)", batch_under_2s),
        ("dispatch ≥ 10,000 mails/s on MemoryStore (1 dispatcher)",
         lambda: 10_000 / (get("dispatch_drain_10000", "memory_1x") / 1e9) >= 10_000),
        ("accept throughput at every N of 2, 4, 8 ≥ 0.9 × cores ÷ one hash", accept_every_n),
    ]
    print("\ntarget | met\n---|---")
    for name, test in checks:
        missing.clear()
        met = test()
        print(f"{name} | {'not run' if missing else 'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
