#!/usr/bin/python3
"""Scrapes kuke watch's metrics endpoint (or reads a metrics file) and parses the text with
prometheus_client's parser (Debian's python3-prometheus-client): prints one JSON object per
sample, {"name", "labels", "value"}, after a first line {"healthz": status, "readyz": status}.
A text the parser rejects exits 1 with its error. Used by the metrics kernel test.
Usage: scrape.py http://HOST:PORT | scrape.py --file PATH
"""
import json
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


if sys.argv[1] == "--file":
    text = open(sys.argv[2], encoding="utf-8").read()
    print(json.dumps({}))
else:
    base = sys.argv[1]
    print(json.dumps({"healthz": status(base + "/healthz"), "readyz": status(base + "/readyz"), "missing": status(base + "/nope")}))
    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
        if not response.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
            sys.exit("unexpected Content-Type: " + response.headers.get("Content-Type", ""))
        text = response.read().decode("utf-8")
try:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            print(json.dumps({"name": sample.name, "labels": sample.labels, "value": sample.value, "type": family.type}))
except Exception as error:  # the parser's own error, with the offending line
    sys.exit("prometheus_client cannot parse the metrics: %s" % error)
