"""``make bench``: the benchmark suite on this machine, one table.

Runs each benchmark in its own process (so memory figures are its own),
prints one table with each figure next to its ceiling on this machine and
its target, and writes everything as JSON to ``var/bench/<time>.json`` (and
``var/bench/latest.json``). docs/benchmarks.md explains each line and records
the figures of a run.

The chain runs twice: every service one copy, then two copies of the stage
that used the most CPU per declaration in the first run (measured, not
guessed).

Usage: python tests/bench/run.py [--declarations 20000] [--quick] [--only chain,load,...]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "bench"
PARTS = ("broker", "calculation", "rendering", "notifications", "chain", "load")
SERVICES = ("contributions", "documents", "notifications", "accounts")


def run_json(script: str, *args: str, timeout: float = 7200) -> dict:
    started = time.monotonic()
    print(f"[bench] {script} {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, str(BENCH / script), *args, "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not result.stdout.strip():
        raise SystemExit(f"{script} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"[bench]   done in {time.monotonic() - started:.0f} s", flush=True)
    return figures


def machine() -> dict:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 platform.processor())
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(int(memory) / 2**20, 1),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg()}


def rows(figures: dict) -> list[tuple[str, str, str, str, str]]:
    """(figure, value, ceiling on this machine, ratio, target) lines of the table."""
    out = []
    broker = figures.get("broker")
    # messages a declaration costs the broker (events and RPCs), measured in the chain run
    hops = figures.get("chain", {}).get("throughput", {}).get("broker_messages_per_declaration") or 5
    chain_ceiling = broker["hop_per_second"] / hops if broker else None

    def ratio(value, ceiling):
        return f"{value / ceiling:.0%}" if ceiling else "-"
    if broker:
        out.append(("broker: publish (confirmed) + consume, msg/s", f"{broker['hop_per_second']:,.0f}",
                    "(the ceiling)", "-", "-"))
    for key, label in (("chain", "chain throughput, 1 copy each, decl/s"),
                       ("chain_scaled", "chain throughput, {scale}, decl/s")):
        chain = figures.get(key, {}).get("throughput")
        if chain:
            name = label.format(scale=" ".join(figures[key]["scale"]))
            out.append((name, f"{chain['per_second']:.1f}",
                        f"{chain_ceiling:,.0f} (broker / {hops:.1f} msg)" if chain_ceiling else "-",
                        ratio(chain["per_second"], chain_ceiling), ">= 100"))
    camp = figures.get("chain", {}).get("campaign")
    if camp:
        out.append((f"yearly-call campaign through the chain, members/s ({camp['members']:,})",
                    f"{camp['per_second']:.1f}", "-", "-",
                    f"200,000 in {camp['minutes_for_200000']:.0f} min"))
    lat = figures.get("chain", {}).get("latency")
    if lat:
        floor = broker["confirm_p50_ms"] * 5 if broker else None
        out.append((f"chain latency at {lat['rate']:g} decl/s, p50 / p99 ms",
                    f"{lat['p50_ms']:.0f} / {lat['p99_ms']:.0f}",
                    f"{floor:.1f} (5 confirmed hops)" if floor else "-",
                    ratio(floor, lat["p99_ms"]) if floor else "-", "p99 < 1000"))
    load = figures.get("load")
    if load:
        # the steady state (every member logged in); the whole run when there is none
        steady = load.get("steady") or load
        dash = steady["by_endpoint"].get("GET / (dashboard)", {})
        out.append(("dashboard at 50 members: req/s (all pages)", f"{steady['rps']:.1f}",
                    f"{load['static_ceiling_per_second']:.0f} (static file)",
                    ratio(steady["rps"], load["static_ceiling_per_second"]), "-"))
        out.append(("dashboard at 50 members: p50 / p99 ms", f"{dash.get('p50_ms', 0):.0f} / "
                    f"{dash.get('p99_ms', 0):.0f}", "-", "-", "p99 < 150"))
        logins = load.get("logins")
        if logins:
            out.append(("logins (argon2) while members arrive: p50 / p99 ms",
                        f"{logins['p50_ms']:.0f} / {logins['p99_ms']:.0f}", "-", "-", "-"))
    calc = figures.get("calculation")
    if calc:
        out.append(("calculation, member-years per CPU-second", f"{calc['per_cpu_second']:,.0f}",
                    "(pure Python, one core)", "-", ">= 20,000"))
        if "service_members_per_second" in calc:
            out.append(("contributions service layer (DB, no broker), members/s",
                        f"{calc['service_members_per_second']:,.0f}", f"{calc['per_cpu_second']:,.0f}",
                        ratio(calc["service_members_per_second"], calc["per_cpu_second"]), "-"))
    rendering = figures.get("rendering")
    if rendering:
        out.append(("PDF statements/s, one core (CPU time; first reads)", f"{rendering['per_second_cpu']:.0f}",
                    "-", "-", ">= 100"))
        out.append(("PDF rendering peak memory, MiB", f"{rendering['peak_rss_mib']:.0f}", "-", "-", "-"))
    notif = figures.get("notifications")
    if notif:
        out.append(("emails/s through notifications", f"{notif['emails_per_second']:.1f}",
                    f"{notif['smtp_ceiling_per_second']:.0f} (raw SMTP)",
                    ratio(notif["emails_per_second"], notif["smtp_ceiling_per_second"]), "-"))
        out.append(("letters/s through notifications", f"{notif['letters_per_second']:.1f}", "-", "-", "-"))
    return out


def table(lines) -> str:
    header = ("figure", "value", "ceiling here", "ratio", "target")
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(5)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths)),
                      *(fmt.format(*line) for line in lines)])


def slowest(chain: dict) -> str:
    used = chain["throughput"]["cpu_ms_per_declaration"]
    return max(SERVICES, key=lambda s: used.get(s, 0.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=20000)
    parser.add_argument("--quick", action="store_true",
                        help="small counts (2,000 declarations, 30 s of load): minutes, not an hour")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated among {PARTS}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    declarations = 2000 if args.quick else args.declarations
    db = ["--database-url", os.environ["CARPIMKO_TEST_DATABASE_URL"]] \
        if os.environ.get("CARPIMKO_TEST_DATABASE_URL") else []
    figures: dict = {"machine": machine(), "started_at": datetime.now(timezone.utc).isoformat(),
                     "database": "PostgreSQL" if db else "SQLite", "declarations": declarations}
    if "broker" in only:
        figures["broker"] = run_json("bench_broker.py", "--count", "5000" if args.quick else "20000")
    if "calculation" in only:
        figures["calculation"] = run_json("bench_calculation.py", "--members", "100000",
                                          "--service", "500" if args.quick else "2000", *db)
    if "rendering" in only:
        figures["rendering"] = run_json("bench_rendering.py", "200" if args.quick else "1000")
    if "notifications" in only:
        figures["notifications"] = run_json("bench_notifications.py", "--count",
                                            "200" if args.quick else "1000", *db)
    if "chain" in only:
        figures["chain"] = run_json("bench_chain.py", "--declarations", str(declarations),
                                    "--latency-seconds", "15" if args.quick else "30",
                                    "--campaign", *db)
        stage = slowest(figures["chain"])
        figures["chain_scaled"] = run_json("bench_chain.py", "--declarations", str(declarations),
                                           "--latency-seconds", "0", "--scale", f"{stage}=2", *db)
    if "load" in only:
        figures["load"] = run_json("load.py", *(("--duration", "45s", "--spawn-rate", "5")
                                                if args.quick else ("--duration", "2m")), *db)
    figures["finished_at"] = datetime.now(timezone.utc).isoformat()
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    for name in (f"{stamp}.json", "latest.json"):
        (out_dir / name).write_text(json.dumps(figures, indent=1))
    m = figures["machine"]
    print(f"\n{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, "
          f"{figures['database']}, load average at start {m['load_average_at_start'][0]:.2f}")
    print(table(rows(figures)))
    chain = figures.get("chain", {}).get("throughput")
    if chain:
        print("\nCPU per declaration by stage (1 copy each): " + ", ".join(
            f"{k} {v:.1f} ms" for k, v in sorted(chain["cpu_ms_per_declaration"].items(),
                                               key=lambda kv: -kv[1]) if v >= 0.5))
    print(f"\nfigures written to var/bench/{stamp}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
