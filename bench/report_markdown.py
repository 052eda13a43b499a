"""bench/report.md from what bench/report.py collected: one section per figure of the
issue, each beside its baseline from the same run and its target."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

Row = Sequence[object]


# --- formatting ----------------------------------------------------------------------------
def num(value: Any, fmt: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:{fmt}}{unit}"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**not met**")


def table(headers: Sequence[str], rows: Sequence[Row]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def verbatim(text: str) -> list[str]:
    return ["```", text.rstrip(), "```", ""]


def at_most(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value <= limit)


def at_least(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value >= limit)


class Report:
    """The collected results, with the lookups every section needs."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.benches: dict[str, dict[str, Any]] = data["benches"]
        self.summary: list[Row] = []  # figure, measured, baseline, target, verdict

    def figures(self, name: str) -> dict[str, Any] | None:
        bench = self.benches.get(name)
        return bench.get("figures") if bench else None

    def missing(self, name: str) -> list[str]:
        """Why a bench's section has no numbers (empty when it has them)."""
        bench = self.benches.get(name)
        if bench is None:
            return [
                f"_Not run this time (`bench/report.py --skip` / `--only`): no {name} figures._",
                "",
            ]
        if bench["status"] == "missing":
            return [f"_{bench['script']} is not in the repository: no figures._", ""]
        if bench["status"] != "ok" or "figures" not in bench:
            tail = "\n".join(bench["output"].splitlines()[-15:])
            return [
                f"_{bench['script']} {bench['status']}; the end of its output:_",
                "",
                *verbatim(tail),
            ]
        return []

    def target(
        self, figure: str, measured: str, baseline: str, target: str, ok: bool | None
    ) -> None:
        self.summary.append((figure, measured, baseline, target, verdict(ok)))


# --- sections ----------------------------------------------------------------------------
def faq_accuracy(r: Report) -> list[str]:
    out = ["## FAQ accuracy beside its baselines", ""]
    f = r.figures("faq_eval")
    if f is None:
        return out + r.missing("faq_eval")
    targets = f["targets"]
    systems = f["systems"]
    out.append(
        "`bench/faq_eval.py` (= `bot faq eval`): held-out shopper questions; every threshold "
        "and weight, the baselines' included, tuned on the `tune` split only. Targets for the "
        f"engine: top-1 ≥ {targets['top1']}, overall (answered right or rightly abstained) "
        f"≥ {targets['overall']}."
    )
    out.append("")
    rows = []
    for split in systems[0]["held_out"]:
        for i, s in enumerate(systems):
            m = s["held_out"][split]
            rows.append(
                (
                    f"{split} ({m['n_in']} + {m['n_out']} unanswerable)" if i == 0 else "",
                    s["name"],
                    num(m["top1"], ".3f"),
                    num(m["mrr3"], ".3f"),
                    num(m["abstain_precision"], ".3f"),
                    num(m["abstain_recall"], ".3f"),
                    num(m["overall"], ".3f"),
                )
            )
        if "novel" in split:
            continue
        ours = systems[0]["held_out"][split]
        best_base = max(s["held_out"][split]["overall"] for s in systems[1:])
        r.target(
            f"FAQ held-out `{split}`: top-1 / overall",
            f"{ours['top1']:.3f} / {ours['overall']:.3f}",
            f"best baseline overall {best_base:.3f}",
            f"≥ {targets['top1']} / ≥ {targets['overall']}",
            ours["top1"] >= targets["top1"] and ours["overall"] >= targets["overall"],
        )
    out += table(
        ["held-out split", "system", "top-1", "MRR@3", "abstain P", "abstain R", "overall"], rows
    )
    return out


def nlu_f1(r: Report) -> list[str]:
    out = ["## NLU, cross-validated F1", ""]
    f = r.figures("nlu_cv")
    if f is None:
        return out + r.missing("nlu_cv")
    base = f.get("baseline_ngrams_only") or {}
    out.append(
        f"`bench/nlu_cv.py`: Rasa's {f['folds']}-fold cross-validation of data/nlu.yml "
        "(random folds: ±0.005 between runs). Baseline: the same pipeline without the "
        "MiniLM sentence vectors (word and character n-grams only), same folds count, same run."
    )
    out.append("")
    entities = ", ".join(f"{k} {v:.3f}" for k, v in f["entity_macro_f1"].items()) or "–"
    base_entities = ", ".join(f"{k} {v:.3f}" for k, v in base.get("entity_macro_f1", {}).items())
    out += table(
        ["pipeline", "intent macro-F1", "intent accuracy", "entity macro-F1", "seconds"],
        [
            (
                "config.yml",
                num(f["intent_macro_f1"], ".3f"),
                num(f["intent_accuracy"], ".3f"),
                entities,
                num(f["seconds"], ".0f"),
            ),
            (
                "baseline: n-grams only",
                num(base.get("intent_macro_f1"), ".3f"),
                num(base.get("intent_accuracy"), ".3f"),
                base_entities or "–",
                num(base.get("seconds"), ".0f"),
            ),
        ],
    )
    worst = sorted(f["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]
    out += [
        "Lowest per-intent F1: " + ", ".join(f"{k} {v:.3f}" for k, v in worst) + ".",
        "",
    ]
    r.target(
        "NLU intent macro-F1 (cross-validated)",
        f"{f['intent_macro_f1']:.3f}",
        f"n-grams only {num(base.get('intent_macro_f1'), '.3f')}",
        f"≥ {f['intent_macro_f1_target']}",
        f["intent_macro_f1"] >= f["intent_macro_f1_target"],
    )
    return out


def end_to_end(r: Report) -> list[str]:
    out = ["## End-to-end accuracy (Rasa's REST channel)", ""]
    f = r.figures("rasa_e2e")
    if f is None:
        return out + r.missing("rasa_e2e")
    out.append(
        "`bench/rasa_e2e.py`: every held-out question as the first message of a new "
        "conversation through the real Rasa and action server. Strict: the reply is an "
        "acceptable entry's text, or the \"I don't know\" path for an unanswerable one; "
        "lenient also accepts the entry's own flow or small talk. Baseline: the FAQ engine "
        f"alone on the same questions. Target: strict ≥ {f['accuracy_target']}."
    )
    out.append("")
    rows = []
    for name, a in f["accuracy"].items():
        rows.append(
            (
                f"{name} ({a['policy']} policy + {a['unanswerable']} unanswerable)",
                num(a["strict"], ".3f"),
                num(a["lenient"], ".3f"),
                num(a["baseline_engine_alone"], ".3f"),
            )
        )
        r.target(
            f"end to end, {name}: strict",
            f"{a['strict']:.3f}",
            f"FAQ engine alone {a['baseline_engine_alone']:.3f}",
            f"≥ {f['accuracy_target']}",
            a["strict"] >= f["accuracy_target"],
        )
    out += table(["set", "strict", "lenient", "baseline: FAQ engine alone"], rows)
    return out


def latency(r: Report) -> list[str]:
    out = ["## Latency: straight to Rasa vs through the gateway", ""]
    e2e = r.figures("rasa_e2e")
    if e2e is not None:
        lat = e2e["latency"]
        t = e2e["latency_targets_ms"]
        out.append(
            "One message at a time (`bench/rasa_e2e.py`), the REST round trip beside its parts "
            "measured in the same run:"
        )
        out.append("")
        names = {
            "rest": "REST round trip (whole reply)",
            "nlu_parse": "NLU parse alone (/model/parse)",
            "action_call": "action server call alone",
            "retrieval": "FAQ retrieval alone",
        }
        out += table(
            ["what", "p50 ms", "p95 ms", "mean ms"],
            [
                (label, num(lat[k]["p50_ms"]), num(lat[k]["p95_ms"]), num(lat[k]["mean_ms"]))
                for k, label in names.items()
            ],
        )
        rest = lat["rest"]
        r.target(
            "REST reply p50 / p95, one at a time",
            f"{rest['p50_ms']:.1f} / {rest['p95_ms']:.1f} ms",
            f"NLU {lat['nlu_parse']['p50_ms']:.1f}, "
            f"action {lat['action_call']['p50_ms']:.1f} ms at p50",
            f"≤ {t['p50']:.0f} / ≤ {t['p95']:.0f} ms",
            rest["p50_ms"] <= t["p50"] and rest["p95_ms"] <= t["p95"],
        )
    else:
        out += r.missing("rasa_e2e")
    load = r.figures("load")
    if load is None:
        return out + r.missing("load")
    limit = load["targets"]["gateway_added_p50_ms"]
    out.append(
        "Under load (`bench/load.py`): N shoppers straight to Rasa's REST channel (the "
        "baseline), then N through the gateway's WebSocket as the widget does, same stack, "
        f"one after the other. Target: the gateway adds ≤ {limit:.0f} ms at p50."
    )
    out.append("")
    rows = []
    for config in load["configs"]:
        for g in config["gateway_cost"]:
            rows.append(
                (
                    config["rasa_servers"],
                    g["shoppers"],
                    f"{num(g['rest_p50_ms'], '.0f')} / {num(g['rest_p95_ms'], '.0f')}",
                    f"{num(g['ws_p50_ms'], '.0f')} / {num(g['ws_p95_ms'], '.0f')}",
                    num(g["added_p50_ms"], "+.1f"),
                    verdict(at_most(g["added_p50_ms"], limit)),
                )
            )
            r.target(
                f"gateway's cost at p50, {g['shoppers']} shoppers, {config['rasa_servers']} Rasa",
                f"{num(g['added_p50_ms'], '+.1f')} ms",
                f"REST direct p50 {num(g['rest_p50_ms'], '.0f')} ms",
                f"≤ {limit:.0f} ms",
                at_most(g["added_p50_ms"], limit),
            )
    out += table(
        [
            "Rasa servers",
            "shoppers",
            "REST p50 / p95 ms",
            "gateway p50 / p95 ms",
            "added at p50 ms",
            "target",
        ],
        rows,
    )
    return out


def run_cells(run: dict[str, Any] | None) -> list[str]:
    if run is None:
        return ["–"] * 5
    err = f"{run['errors']}" + (
        " (" + ", ".join(f"{k} {v}" for k, v in run["error_kinds"].items()) + ")"
        if run["errors"]
        else ""
    )
    return [
        num(run["msgs_per_s"]),
        num(run["p50_ms"], ".0f"),
        num(run["p95_ms"], ".0f"),
        num(run["p99_ms"], ".0f"),
        err,
    ]


STORES = {"postgres": "PostgreSQL (tracker) + Redis (locks)", "sqlite": "SQLite"}


def concurrency(r: Report) -> list[str]:
    out = ["## Concurrent shoppers on one vs two Rasa servers", ""]
    f = r.figures("load")
    if f is None:
        return out + r.missing("load")
    configs = f["configs"]
    out.append(
        f"`bench/load.py`, through the gateway: {f['duration_s']:g} s per run; each shopper "
        f"asks {f['questions_per_shopper']} policy questions {f['think_s']:g} s ± 50 % apart, "
        "then leaves and a new one takes the slot. "
        + "; ".join(
            f"{c['rasa_servers']} Rasa: {c['rasa_servers']} Rasa + {c['rasa_servers']} action "
            f"server(s), stores {STORES[c['stores']]}"
            for c in configs
        )
        + ". The one-server rows are the baseline of the two-server rows. Latency is "
        "message to complete reply; errors are timeouts, refused connections and error frames."
    )
    out.append("")
    kinds: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
        ("With think time", lambda run: run["think_s"] > 0),
        (
            "Closed loop (no think time: the most the stack answers)",
            lambda run: run["think_s"] == 0,
        ),
    ]
    for title, pick in kinds:
        levels = sorted(
            {
                run["shoppers"]
                for c in configs
                for run in c["runs"]
                if run["mode"] == "WS" and pick(run)
            }
        )
        if not levels:
            continue
        head = ["shoppers"]
        for c in configs:
            n = c["rasa_servers"]
            head += [f"{n} Rasa: msg/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
        rows = []
        for level in levels:
            row = [str(level)]
            for c in configs:
                run = next(
                    (
                        x
                        for x in c["runs"]
                        if x["mode"] == "WS" and pick(x) and x["shoppers"] == level
                    ),
                    None,
                )
                row += run_cells(run)
            rows.append(row)
        out += [f"**{title}**", "", *table(head, rows)]
    for c in configs:
        fifty, rest = (
            next((x for x in c["runs"] if x["mode"] == mode and x["shoppers"] == 50), None)
            for mode in ("WS", "REST")
        )
        if fifty and fifty["think_s"] > 0:
            r.target(
                f"50 shoppers through the gateway, {c['rasa_servers']} Rasa: p95; errors",
                f"{num(fifty['p95_ms'], '.0f')} ms; {fifty['errors']}",
                f"straight to Rasa: {num(rest['p95_ms'], '.0f')} ms; {rest['errors']}"
                if rest
                else "—",
                "≤ 1000 ms; 0",
                bool(fifty["ok"]),
            )
    return out


def saturation(r: Report) -> list[str]:
    out = ["## Saturation point, what saturates first, CPU per message", ""]
    f = r.figures("load")
    if f is None:
        return out + r.missing("load")
    target = f["targets"]
    out.append(
        f"Target: ≥ {target['msgs_per_s']:.0f} messages/s through the gateway at p95 ≤ "
        f"{target['p95_ms']:.0f} ms with 0 errors. The saturation point is the highest "
        "throughput of any run (with or without think time) that stayed within p95 ≤ 1 s "
        "and 0 errors; the costs are CPU time per answered message at the highest "
        "throughput, each process with its children (PostgreSQL: the backends serving the "
        "run's databases; Redis: the whole server, shared with other work)."
    )
    out.append("")
    for c in f["configs"]:
        a = c["analysis"]
        out += [f"**{c['rasa_servers']} Rasa server(s).** {a['text']}", ""]
    out += next_step(f, r.data["machine"]["cores"])
    names: list[str] = []
    for c in f["configs"]:
        for n in c["analysis"].get("cpu_ms_per_msg", {}):
            if n not in names:
                names.append(n)
    names.append("load generator")
    head = ["process"] + [
        f"{c['rasa_servers']} Rasa: CPU ms/msg (% of a core)" for c in f["configs"]
    ]
    rows = []
    for n in names:
        row = [n]
        for c in f["configs"]:
            procs = c["analysis"].get("highest_throughput", {}).get("processes", {})
            p = procs.get(n)
            row.append(f"{p['cpu_ms_per_msg']:.1f} ({p['cpu_pct']:.0f}%)" if p else "–")
        rows.append(row)
    rows.append(
        ["**all of ours (no load generator, no Redis)**"]
        + [num(c["analysis"].get("cpu_ms_per_msg_total")) for c in f["configs"]]
    )
    rows.append(
        ["at msg/s"]
        + [num(c["analysis"].get("highest_throughput", {}).get("msgs_per_s")) for c in f["configs"]]
    )
    out += table(head, rows)
    base = f["configs"][0]["analysis"]
    for c in f["configs"]:
        a = c["analysis"]
        sat = a.get("saturation")
        r.target(
            f"throughput at p95 ≤ 1 s, 0 errors, {c['rasa_servers']} Rasa",
            f"{num(sat['msgs_per_s'] if sat else None)} msg/s",
            "—"
            if c is f["configs"][0]
            else f"1 Rasa: {num((base.get('saturation') or {}).get('msgs_per_s'))} msg/s",
            f"≥ {target['msgs_per_s']:.0f} msg/s",
            bool(a.get("target_met")),
        )
    return out


ROLES = {
    "rasa": "Rasa",
    "gateway": "gateway",
    "actions": "action server",
    "postgres": "PostgreSQL",
    "orders": "order backend",
}


def by_role(costs: dict[str, float]) -> dict[str, float]:
    """CPU ms per message summed over the copies of each process (rasa + rasa2, ...);
    Redis (the whole shared server) left out."""
    roles: dict[str, float] = {}
    for name, ms in costs.items():
        role = ROLES.get(name.rstrip("0123456789"))
        if role:
            roles[role] = roles.get(role, 0.0) + ms
    return dict(sorted(roles.items(), key=lambda kv: -kv[1]))


def next_step(f: dict[str, Any], cores: int) -> list[str]:
    """What a message costs by role, and what the target asks of that cost."""
    rate = f["targets"]["msgs_per_s"]
    budget = cores * 1000 / rate  # CPU ms a message may cost for `rate` on these cores
    out = []
    for c in f["configs"]:
        roles = by_role(c["analysis"].get("cpu_ms_per_msg", {}))
        total = sum(roles.values())
        if not total:
            continue
        listed = ", ".join(
            f"{role} {ms:.1f} ({100 * ms / total:.0f}%)" for role, ms in roles.items()
        )
        out.append(
            f"**What a message costs, {c['rasa_servers']} Rasa, by role** (CPU ms, every copy "
            f"of a process together): {listed}; {total:.1f} ms in all. {rate:.0f} messages/s "
            f"on {cores} cores leaves {budget:.1f} ms of CPU per message even with every core "
            f"busy, so the target needs the cost cut about {total / budget:.1f}× or about "
            f"{rate * total / 1000:.1f} cores; {next(iter(roles))} is the largest part."
        )
        out.append("")
    return out


def processes(r: Report) -> list[str]:
    out = ["## CPU and memory per process", ""]
    f = r.figures("load")
    if f is None:
        out += r.missing("load")
    else:
        out.append(
            "From `bench/load.py`, per configuration at its highest throughput: CPU ms per "
            "message, share of one core, the main thread's (a server's event loop) share of "
            "the time on a CPU and waiting for one, and peak resident memory (RSS, the "
            "process with its children; shared pages counted in each process)."
        )
        out.append("")
        rows = []
        for c in f["configs"]:
            peak = c["analysis"].get("highest_throughput") or {}
            for name, p in peak.get("processes", {}).items():
                loop = (
                    f"{p['loop_run_pct']:.0f}% / {p['loop_wait_pct']:.0f}%"
                    if "loop_run_pct" in p
                    else "–"
                )
                rows.append(
                    (
                        c["rasa_servers"],
                        name,
                        num(p["cpu_ms_per_msg"]),
                        num(p["cpu_pct"], ".0f", "%"),
                        loop,
                        num(p["peak_mb"], ".0f"),
                    )
                )
        head = ["Rasa servers", "process", "CPU ms/msg", "% of a core"]
        out += table([*head, "main thread running / waiting for a CPU", "peak RSS MB"], rows)
    mem = r.benches.get("memory")
    out.append("Memory of one full set of processes (`bench/memory.py`, PSS), as it printed:")
    out.append("")
    if mem and mem["status"] == "ok":
        out += verbatim(mem["output"])
        memory_target(r, mem["output"])
    else:
        out += r.missing("memory") or ["_No output._", ""]
    return out


# bench/memory.py's totals line (someone else's text): old PSS, old in set, now PSS, now
# in set, target, all MB. Left out of the targets table if its wording changes.
MEMORY_TOTALS = re.compile(r"^\s*total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+target <= (\d+)", re.M)


def memory_target(r: Report, output: str) -> None:
    match = MEMORY_TOTALS.search(output)
    if not match:
        return
    old, old_set, now, now_set, limit = (int(g) for g in match.groups())
    r.target(
        "memory of one set of processes (PSS; PSS in the set), `bench/memory.py`",
        f"{now} MB; {now_set} MB",
        f"as started before issue 12: {old} MB; {old_set} MB",
        f"≤ {limit} MB",
        now <= limit,
    )


def tracker_cost(r: Report) -> list[str]:
    out = ["## PostgreSQL tracker store: cost per message", ""]
    f = r.figures("tracker_store")
    if f is None:
        out += r.missing("tracker_store")
    else:
        limit = f["p50_added_target_ms"]
        out.append(
            f"`bench/tracker_store.py`: the same {f['conversations']} conversations of "
            f"{f['turns']} turns to Rasa servers that differ only in the tracker store, turns "
            f"interleaved; baseline: {f['baseline']}. Target: ≤ {limit:.0f} ms added at p50."
        )
        out.append("")
        rows = []
        for name, s in f["stores"].items():
            is_base = name == f["baseline"]
            rows.append(
                (
                    name,
                    num(s["p50_ms"]),
                    num(s["p95_ms"]),
                    "baseline" if is_base else num(s["p50_added_ms"], "+.1f"),
                    "" if is_base else verdict(at_most(s["p50_added_ms"], limit)),
                )
            )
            if name == "postgresql":
                r.target(
                    "PostgreSQL tracker store, added at p50 per message",
                    f"{s['p50_added_ms']:+.1f} ms",
                    f"in memory p50 {f['stores'][f['baseline']]['p50_ms']:.1f} ms",
                    f"≤ {limit:.0f} ms",
                    s["p50_added_ms"] <= limit,
                )
        out += table(["tracker store", "p50 ms", "p95 ms", "added at p50 ms", "target"], rows)
    load = r.figures("load")
    if load:
        for c in load["configs"]:
            peak = c["analysis"].get("highest_throughput") or {}
            pg = peak.get("processes", {}).get("postgres")
            if pg:
                out.append(
                    f"CPU of the PostgreSQL backends under load ({c['rasa_servers']} Rasa, "
                    f"{peak['msgs_per_s']:.1f} msg/s; tracker store, app and order databases "
                    f"together): {pg['cpu_ms_per_msg']:.1f} ms per message."
                )
                out.append("")
    return out


def startup_training(r: Report) -> list[str]:
    out = ["## Start-up and training times", ""]
    rows = []
    e2e = r.figures("rasa_e2e")
    if e2e:
        ready = e2e["ready_s"]
        limit = e2e["rasa_ready_target_s"]
        for name, seconds in ready.items():
            ok = at_most(seconds, limit) if name == "rasa" else None
            rows.append(
                (
                    f"{name} ready after start (`rasa_e2e`)",
                    num(seconds, ".1f", " s"),
                    f"≤ {limit:.0f} s" if name == "rasa" else "—",
                    verdict(ok),
                )
            )
        if "rasa" in ready:
            r.target(
                "Rasa ready after start",
                f"{ready['rasa']:.1f} s",
                f"action server {num(ready.get('actions'), '.1f')} s",
                f"≤ {limit:.0f} s",
                ready["rasa"] <= limit,
            )
    load = r.figures("load")
    if load:
        for c in load["configs"]:
            rows.append(
                (
                    f"whole stack ready, {c['rasa_servers']} Rasa "
                    "(`load`, processes started together)",
                    num(c.get("started_s"), ".1f", " s"),
                    "—",
                    "—",
                )
            )
    lat = r.figures("faq_latency")
    if lat:
        rows.append(
            (
                "FAQ engine warm start, new process (`faq_latency`)",
                num(lat["warm_start_s"], ".2f", " s"),
                f"< {lat['warm_start_target_s']:.0f} s",
                verdict(lat["warm_start_s"] < lat["warm_start_target_s"]),
            )
        )
        r.target(
            "FAQ warm start",
            f"{lat['warm_start_s']:.2f} s",
            "—",
            f"< {lat['warm_start_target_s']:.0f} s",
            lat["warm_start_s"] < lat["warm_start_target_s"],
        )
    train = r.figures("train_time")
    if train:
        rows += [
            (
                "FAQ encoder fine-tuning + export + index (`train_time`)",
                num(train["faq_encoder_s"], ".0f", " s"),
                "",
                "",
            ),
            ("Rasa model (`train_time`)", num(train["rasa_model_s"], ".0f", " s"), "", ""),
            (
                "full training from nothing",
                num(train["total_s"], ".0f", " s"),
                f"≤ {train['target_s']:.0f} s",
                verdict(train["total_s"] <= train["target_s"]),
            ),
        ]
        r.target(
            "full training from nothing",
            f"{train['total_s']:.0f} s",
            "—",
            f"≤ {train['target_s']:.0f} s",
            train["total_s"] <= train["target_s"],
        )
    if not rows:
        return out + r.missing("rasa_e2e") + r.missing("train_time")
    out.append("No baseline for these: the targets stand alone.")
    out.append("")
    out += table(["what", "measured", "target", ""], rows)
    if not train:
        out += r.missing("train_time")
    return out


WAYS = ("shopper_to_agent", "agent_to_shopper")


def pair(p50_p95: dict[str, Any]) -> str:
    return f"{num(p50_p95['p50_ms'])} / {num(p50_p95['p95_ms'])}"


def other_benches(r: Report) -> list[str]:
    out = ["## Other benches of `make bench`", ""]
    lat = r.figures("faq_latency")
    if lat:
        out.append(
            f"**FAQ search latency** (`faq_latency`, {lat['questions']} questions × "
            f"{lat['rounds']}): search p50 {lat['search']['p50_ms']:.2f} ms, p95 "
            f"{lat['search']['p95_ms']:.2f} ms (encode {lat['encode']['p50_ms']:.2f}, BM25 "
            f"{lat['bm25']['p50_ms']:.2f} ms at p50); baseline, a bare SentenceTransformer "
            f"encode: p50 {lat['baseline_sentence_transformers']['p50_ms']:.2f} ms."
        )
        out.append("")
        r.target(
            "FAQ search p50",
            f"{lat['search']['p50_ms']:.2f} ms",
            f"bare SentenceTransformer {lat['baseline_sentence_transformers']['p50_ms']:.2f} ms",
            f"≤ {lat['search_p50_target_ms']:.0f} ms",
            lat["search"]["p50_ms"] <= lat["search_p50_target_ms"],
        )
    hand = r.figures("handoff_latency")
    if hand:
        limit = hand["delivery_target_p50_ms"]
        rows = [
            (
                lv["other_shoppers"],
                pair(lv["shopper_to_agent"]),
                pair(lv["agent_to_shopper"]),
            )
            for lv in hand["levels"]
        ]
        out += [
            f"**Hand-off delivery** (`handoff_latency`, {hand['rounds']} messages each way; "
            f"the 0 row is the baseline; target p50 ≤ {limit:.0f} ms under load):",
            "",
            *table(
                ["other shoppers", "shopper → agent p50 / p95 ms", "agent → shopper p50 / p95 ms"],
                rows,
            ),
        ]
        loaded = hand["levels"][-1]
        worst = max(loaded[way]["p50_ms"] for way in WAYS)
        idle = hand["levels"][0]
        r.target(
            f"hand-off delivery p50, {loaded['other_shoppers']} other shoppers (worse way)",
            f"{worst:.1f} ms",
            f"alone {max(idle[way]['p50_ms'] for way in WAYS):.1f} ms",
            f"≤ {limit:.0f} ms",
            worst <= limit,
        )
        one, mail = hand["one_message_server_ms"], hand["email_5_questions_server_ms"]
        out.append(
            f"Suggestions for one message, server-side: p50 {one['p50']:.1f} ms, p95 "
            f"{one['p95']:.1f} ms (FAQ {one['faq_p50']:.1f}, order facts {one['order_p50']:.1f} "
            f"ms; target p50 ≤ {one['target_p50']:.0f} ms); an e-mail with 5 questions: p50 "
            f"{mail['p50']:.1f} ms, max {mail['max']:.1f} ms (target ≤ {mail['target']:.0f} ms)."
        )
        out.append("")
        r.target(
            "staff suggestions for one message, server p50",
            f"{one['p50']:.1f} ms",
            f"FAQ part alone {one['faq_p50']:.1f} ms",
            f"≤ {one['target_p50']:.0f} ms",
            one["p50"] <= one["target_p50"],
        )
        r.target(
            "answers for a 5-question e-mail, server max",
            f"{mail['max']:.1f} ms",
            "—",
            f"≤ {mail['target']:.0f} ms",
            mail["max"] <= mail["target"],
        )
    staff = r.figures("staff_suggest")
    if staff:
        s = staff.get("suggestions_heldout")
        if s:
            out.append(
                f"**Staff suggestions** (`staff_suggest`): right FAQ entry in the top 3 for "
                f"{s['questions']} held-out messages {s['top3']:.3f} (top 1: {s['top1']:.3f})."
            )
            r.target(
                "staff suggestions: right entry in the top 3",
                f"{s['top3']:.3f}",
                f"top 1 {s['top1']:.3f}",
                "≥ 0.98",
                s["top3"] >= 0.98,
            )
        sets = [k for k in staff if k.startswith("emails_")]
        mail_rows: list[Row] = []
        for key in sets:
            ours, naive = staff[key]["answer_email"], staff[key]["naive"]
            mail_rows.append(
                (
                    key.removeprefix("emails_"),
                    f"{ours['found_answered_rate']:.3f} "
                    f"({ours['found_answered']}/{ours['answerable']})",
                    f"{naive['found_answered_rate']:.3f}",
                    ours["guaranteed_noise_hits"],
                    naive["guaranteed_noise_hits"],
                )
            )
        if mail_rows:
            out += [
                "",
                "E-mails, found and answered (entry in the top 3), beside the naive baseline "
                "(every sentence searched); target ≥ 0.97 on the held-out set 5:",
                "",
                *table(
                    [
                        "set",
                        "answer_email",
                        "naive baseline",
                        "greetings/signatures/quotes taken",
                        "naive: same",
                    ],
                    mail_rows,
                ),
            ]
            if "emails_heldout5" in staff:
                h5 = staff["emails_heldout5"]
                r.target(
                    "e-mails, held-out set 5: found and answered",
                    f"{h5['answer_email']['found_answered_rate']:.3f}",
                    f"naive {h5['naive']['found_answered_rate']:.3f}",
                    "≥ 0.97",
                    h5["answer_email"]["found_answered_rate"] >= 0.97,
                )
        out.append("")
    turn = r.benches.get("turn_cost")
    out.append("**Cost of a late turn** (`bench/turn_cost.py`), as it printed:")
    out.append("")
    if turn and turn["status"] == "ok":
        out += verbatim(turn["output"])
    else:
        out += r.missing("turn_cost") or ["_No output._", ""]
    return out


SECTIONS: list[Callable[[Report], list[str]]] = [
    faq_accuracy,
    nlu_f1,
    end_to_end,
    latency,
    concurrency,
    saturation,
    processes,
    tracker_cost,
    startup_training,
    other_benches,
]


def header(r: Report) -> list[str]:
    m = r.data["machine"]
    benches = r.benches.values()
    other = [
        max(0.0, b["machine_cpu_pct"] - b["own_cpu_pct"]) for b in benches if "machine_cpu_pct" in b
    ]
    busy_other = max(other, default=0.0)
    out = ["# Benchmark report", ""]
    if r.data["quick"]:
        out += [
            "> **QUICK RUN** (`bench/report.py --quick`): short runs and few levels to check the "
            "report end to end. These numbers are not the benchmark's; run `make bench` for them.",
            "",
        ]
    out += [
        "Generated by `make bench` (= `.venv/bin/python bench/report.py`; `--quick` for a short "
        "check, `--only`/`--skip NAME` for some benches) — do not edit: rerun it to regenerate "
        "this file and `bench/report.json` (the same figures, and each bench's full output).",
        "",
        f"Taken {m['date']} at commit `{m['commit'][:10]}`"
        + (
            f" with {m['uncommitted_files']} files changed in the working tree (other work in "
            "progress)"
            if m["uncommitted_files"]
            else ""
        )
        + f"; {r.data['seconds'] / 60:.0f} minutes in all.",
        "",
        "Machine: "
        f"**{m['cores']} cores** ({m['cpu_model']}), {m['memory_gb']} GB memory, Python "
        f"{m['python']}; load average at the start "
        + " / ".join(f"{x:.2f}" for x in m["loadavg_at_start"])
        + ".",
        "",
    ]
    if busy_other >= 10:
        out += [
            f"**Other work ran on this machine at the same time**: processes outside the "
            f"benches (other work, and PostgreSQL/Redis serving the benches) used up to "
            f"{busy_other:.0f}% of one core on average during a bench (per bench below, of "
            f"{m['cores'] * 100}%). Latency and throughput are lower than on a quiet machine.",
            "",
        ]
    rerun = [b for b in benches if "rerun" in b]
    if rerun:
        out += [
            "Run again later into this report (`bench/report.py --merge`): "
            + "; ".join(
                f"{b['name']} on {b['rerun']['date']} at commit `{b['rerun']['commit'][:10]}`"
                for b in rerun
            )
            + ".",
            "",
        ]
    if r.data["benches_left_out"]:
        out += [f"Left out this time: {', '.join(r.data['benches_left_out'])}.", ""]
    return out


def appendix(r: Report) -> list[str]:
    rows = [
        (
            b["name"],
            f"`{b.get('command', b['script'])}`",
            b["status"],
            num(b.get("seconds"), ".0f", " s"),
            num(b.get("machine_cpu_pct"), ".0f", "%"),
            num(b.get("own_cpu_pct"), ".0f", "%"),
        )
        for b in r.benches.values()
    ]
    return [
        "## The runs",
        "",
        "CPU: the whole machine's and the bench's own processes' (those that ended and were "
        "waited for), as a share of one core over the bench's time; the difference is other "
        "work plus PostgreSQL and Redis.",
        "",
        *table(["bench", "command", "status", "time", "machine CPU", "bench's own CPU"], rows),
    ]


def render(data: dict[str, Any]) -> str:
    r = Report(data)
    body: list[str] = []
    for section in SECTIONS:
        body += section(r)
    summary = [
        "## Targets",
        "",
        "Every figure with a target, its baseline from the same run, and whether it is met "
        "(details in the sections below).",
        "",
        *table(["figure", "measured", "baseline (same run)", "target", ""], r.summary),
    ]
    return "\n".join(header(r) + summary + body + appendix(r)).rstrip() + "\n"
