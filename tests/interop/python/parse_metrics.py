"""Parses Prometheus exposition text (the file named by the argument, or stdin) with the reference client's parser
(prometheus_client, pinned in requirements.txt) and prints what it read as JSON:
{"families": [{"name", "type", "samples": [{"name", "labels", "value"}]}]}.

Exits non-zero, naming the problem, when the text does not parse or breaks a rule the
parser leaves to the scraper: one TYPE per family, histogram buckets cumulative with a
+Inf bucket equal to _count.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def check_histogram(family):
    series = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "count": None})
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            series[key]["count"] = s.value
    for key, h in series.items():
        buckets = sorted(h["buckets"])
        if not buckets or not math.isinf(buckets[-1][0]):
            raise ValueError(f"{family.name}{key}: no +Inf bucket")
        counts = [c for _, c in buckets]
        if counts != sorted(counts):
            raise ValueError(f"{family.name}{key}: buckets not cumulative")
        if h["count"] != buckets[-1][1]:
            raise ValueError(f"{family.name}{key}: _count differs from the +Inf bucket")


def main():
    text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
    out = []
    seen = set()
    for family in text_string_to_metric_families(text):
        if family.name in seen:
            raise ValueError(f"family {family.name} appears twice")
        seen.add(family.name)
        if family.type == "histogram":
            check_histogram(family)
        out.append({
            "name": family.name,
            "type": family.type,
            "samples": [
                {"name": s.name, "labels": s.labels, "value": s.value}
                for s in family.samples
            ],
        })
    json.dump({"families": out}, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        print(f"exposition text rejected: {e}", file=sys.stderr)
        sys.exit(1)
