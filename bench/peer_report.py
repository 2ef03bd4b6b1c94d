"""The peer benchmark's ratios and its Markdown block in docs/benchmarks.md (bench/peer_run.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from peer_scenarios import SCENARIOS

if TYPE_CHECKING:
    from pathlib import Path

BEGIN = "<!-- bench/peer.sh: generated, do not edit by hand (begin) -->"
END = "<!-- bench/peer.sh: generated (end) -->"
SECTION = "## Peer comparison: PostGraphile and PostgreSQL"

NAMES = {"govgate": "govgate", "postgraphile": "PostGraphile"}


def _ceiling(results: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """pgbench's best point (the client count that served the most lookups)."""
    points = [(k, p) for k, p in results["points"].items() if k.startswith("s1/pgbench")]
    return max(points, key=lambda kp: kp[1]["rps"]) if points else None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    ceiling = _ceiling(results)
    for scenario in SCENARIOS:
        gg = results["points"].get(f"{scenario}/govgate")
        pg = results["points"].get(f"{scenario}/postgraphile")
        entry: dict[str, Any] = {}
        if gg and pg:
            entry["govgate_over_postgraphile"] = gg["rps"] / pg["rps"]
            entry["server_cpu_per_request_ratio"] = (
                gg["server_cpu_ms_per_request"] / pg["server_cpu_ms_per_request"]
                if pg["server_cpu_ms_per_request"]
                else None
            )
        if scenario == "s1" and ceiling is not None:
            name, point = ceiling
            entry["pgbench"] = name.removeprefix("s1/")
            if gg:
                entry["govgate_over_pgbench"] = gg["rps"] / point["rps"]
            if pg:
                entry["postgraphile_over_pgbench"] = pg["rps"] / point["rps"]
        summary[scenario] = entry
    return summary


def _f(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    load = results["load"]
    rows = results["data"]["rows"]
    lines = [
        BEGIN,
        "",
        f"Measured {results['generated']} (commit {results['commit']}) with "
        f"`{results['command']}`, {results['wall_s'] // 60} min in all.",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['kernel']}; "
        f"PostgreSQL {m['postgresql']}, Python {m['python']}, Node {m['node']}, "
        f"PostGraphile {m['postgraphile']}, {m['pgbench']}, {m['wrk']}.",
        f"- Data: one PostgreSQL database (`{results['data']['database']}`): "
        f"{rows['persons']:,} persons, {rows['legal_entities']:,} entities, "
        f"{rows['land_parcels']:,} parcels, {rows['licenses']:,} licences; govgate's audit "
        f"store in `{results['data']['audit_database']}`, made afresh by the run.",
        f"- Servers: {load['workers']} worker processes each, {load['pool']} connections per "
        "worker (and per source for govgate). govgate: `govgate serve` (bench/peer_serve.py: "
        "log level warning), token checked, audit and vouchers on, as GZ-PSB. PostGraphile: "
        f"`--cluster-workers {load['workers']}`, no authentication, query log off, smart tags "
        "for the links. pgbench: `-M prepared`, the s1 statement (below).",
        f"- Load: wrk, {load['threads']} threads, {load['connections']} connections, "
        f"{load['warmup_s']} s warm-up then {load['duration_s']} s measured; each point "
        f"{load['repeat']}x, the systems taking turns per scenario (the median run is shown; "
        "all runs are in bench/out/peer.json). Only the system measured runs; the others are "
        "paused (SIGSTOP).",
        "",
        "| scenario | system | req/s | p50 ms | p99 ms | SQL/req | server CPU | server ms/req "
        "| DB CPU | DB ms/req | transactions/req (sources, audit) | client CPU | others' CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sql = results["sql"]
    for scenario, (_op, title) in SCENARIOS.items():
        keys = [k for k in results["points"] if k.startswith(f"{scenario}/")]
        order = {"govgate": 0, "postgraphile": 1}
        ordered = sorted(
            keys,
            key=lambda k: (
                order.get(k.split("/")[1], 2),
                int(k.rsplit("-c", 1)[-1]) if "-c" in k else 0,
            ),
        )
        for n, key in enumerate(ordered):
            p = results["points"][key]
            system = key.split("/", 1)[1]
            counted = sql.get(f"{scenario}-{system}")
            if system.startswith("pgbench"):
                name = f"PostgreSQL (pgbench, {system.removeprefix('pgbench-c')} clients)"
                p50, p99 = f"{p['p50_us'] / 1000:.2f}", f"{p['p99_us'] / 1000:.2f}"
                statements = "1"
                xact = f"{p['sources_xacts_per_request']:.2f}, -"
            else:
                name = NAMES[system]
                p50, p99 = f"{p['p50_us'] / 1000:.1f}", f"{p['p99_us'] / 1000:.1f}"
                statements = (
                    f"{counted['statements_per_request']:.2f}"
                    + (f" ({counted['round_trips_per_request']:.2f})"
                       if counted["round_trips_per_request"] != counted["statements_per_request"]
                       else "")
                    if counted else "n/a"
                )  # fmt: skip
                xact = (f"{p['sources_xacts_per_request']:.2f}, "
                        f"{p['audit_xacts_per_request']:.2f}")  # fmt: skip
            runs = "/".join(f"{r:,.0f}" for r in p["rps_runs"])
            flags = " (worker restarted)" if p.get("restarted") else ""
            label = f"{scenario} {title}" if n == 0 else ""
            lines.append(
                f"| {label} | {name}{flags} | **{p['rps']:,.0f}** ({runs}) | {p50} "
                f"| {p99} | {statements} | {p['server_cpu_pct']:.0f}% "
                f"| {p['server_cpu_ms_per_request']:.3f} | {p['db_cpu_pct']:.0f}% "
                f"| {p['db_cpu_ms_per_request']:.3f} | {xact} | {p['client_cpu_pct']:.0f}% "
                f"| {p['other_cpu_pct']:.0f}% |"
            )
    summary = results["summary"]
    lines += [
        "",
        "| scenario | govgate ÷ PostGraphile (req/s) | govgate ÷ PostGraphile (server CPU per "
        "request) | govgate ÷ PostgreSQL | PostGraphile ÷ PostgreSQL |",
        "|---|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        e = summary.get(scenario, {})
        lines.append(
            f"| {scenario} | **{_f(e.get('govgate_over_postgraphile'), '.3f')}** "
            f"| {_f(e.get('server_cpu_per_request_ratio'), '.1f')} "
            f"| {_f(e.get('govgate_over_pgbench'), '.4f')} "
            f"| {_f(e.get('postgraphile_over_pgbench'), '.3f')} |"
        )
    best = _ceiling(results)
    if best is not None:
        clients = best[0].removeprefix("s1/pgbench-c")
        tried = ", ".join(str(c) for c in load["pgbench_clients"])
        lines += [
            "",
            f"PostgreSQL's ceiling for the s1 statement: pgbench with {clients} clients, the "
            f"most lookups per second of {tried} clients; its latencies are those of a 2% "
            "sample of the transactions.",
        ]
    compared = ", ".join(f"{s} {c['compared']}" for s, c in results["comparison"].items())
    discarded = results.get("discarded_runs", [])
    contended = sum(p.get("contended_runs", 0) for p in results["points"].values())
    lines += [
        "",
        f"Answers compared before the runs, normalised to one shape (the `data` member, keys in "
        f"the order sent, cursors decoded): identical for every key compared ({compared} keys). "
        "SQL/req: data statements per request, counted on the wire by a proxy while "
        f"{next(iter(sql.values()))['requests'] if sql else 0} requests per scenario went one at "
        "a time to each system served with one worker (in brackets, with transaction control "
        "such as BEGIN and ROLLBACK; govgate's freshness check, one per source and minute, is "
        "not counted); transactions/req: PostgreSQL's own counters (pg_stat_database) during "
        "the measured runs. Server CPU: the system's processes (from /proc), in % of one core; "
        "DB CPU: the PostgreSQL backends connected to the bench databases; client CPU: wrk or "
        "pgbench; others' CPU: the rest of the machine meanwhile. "
        f"Load average {results['loadavg_before']:.2f} before, {results['loadavg_after']:.2f} "
        f"after; {len(discarded)} run(s) discarded and measured again because other processes "
        f"used more than {load['max_others_pct']:.0f}% of a core, {contended} kept although "
        "contended.",
        "",
        END,
    ]
    return "\n".join(lines)


def write_doc(doc: Path, block: str) -> None:
    """Replace the generated block (between the markers) of the section; append the section
    when the file has none."""
    text = doc.read_text("utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = (text.rstrip("\n") + f"\n\n{SECTION}\n\n```sh\nbench/peer.sh\n```\n\n"
                + block + "\n")  # fmt: skip
    doc.write_text(text, "utf-8")
