#!/usr/bin/env python3
"""Checks a Prometheus text exposition (stdin) beyond what `promtool check metrics` does.

Prometheus itself accepts duplicate series and repeated # TYPE lines silently, so this catches:
parse errors (prometheus_client's parser), a family's HELP/TYPE given twice, the same series
twice, counters without a `_total` sample or with a negative/NaN value, and histograms whose
buckets are not cumulative, lack `le="+Inf"`, or whose `_count` differs from the `+Inf` bucket.
Prints OK, or one problem per line; exit 1 on any problem.
"""
import math
import re
import sys
from collections import Counter, defaultdict

from prometheus_client.parser import text_string_to_metric_families


def problems_in(text):
    found = []
    headers = Counter(re.findall(r"^# (HELP|TYPE) (\S+)", text, re.M))
    found += [f"# {kind} {name} appears {n} times" for (kind, name), n in headers.items() if n > 1]
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and friends on malformed lines
        return found + [f"parse error: {error}"]
    seen = Counter()
    for family in families:
        for sample in family.samples:
            seen[(sample.name, tuple(sorted(sample.labels.items())))] += 1
        if family.type == "counter":
            totals = [s for s in family.samples if s.name.endswith("_total")]
            if family.samples and not totals:
                found.append(f"counter {family.name} has no _total sample")
            found += [f"counter {s.name}{s.labels} = {s.value}" for s in totals if s.value < 0 or math.isnan(s.value)]
        if family.type == "histogram":
            series = defaultdict(lambda: {"buckets": [], "count": None})
            for s in family.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                if s.name.endswith("_bucket"):
                    series[key]["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    series[key]["count"] = s.value
            for key, parts in series.items():
                where = f"histogram {family.name}{dict(key)}"
                buckets = sorted(parts["buckets"])
                values = [v for _, v in buckets]
                if not buckets or buckets[-1][0] != math.inf:
                    found.append(f"{where}: no le=\"+Inf\" bucket")
                elif values != sorted(values):
                    found.append(f"{where}: buckets not cumulative")
                elif parts["count"] is not None and parts["count"] != values[-1]:
                    found.append(f"{where}: _count {parts['count']} != +Inf bucket {values[-1]}")
    found += [f"duplicate series {name}{dict(labels)} ({n} times)" for (name, labels), n in seen.items() if n > 1]
    return found


if __name__ == "__main__":
    problems = problems_in(sys.stdin.read())
    print("\n".join(problems) if problems else "OK")
    sys.exit(1 if problems else 0)
