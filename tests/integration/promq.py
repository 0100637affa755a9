#!/usr/bin/env python3
"""promq.py URL [NAME [LABEL=VALUE ...]]: scrape URL once, parse it with
the Prometheus client library's own parser (a format error fails), and
print the sum of the samples named NAME whose labels match; with only
URL, print how many families parsed. The scrape is kept in $PROMQ_SAVE
when set, for promtool and the test's record."""
import os
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main(argv):
    with urllib.request.urlopen(argv[1], timeout=10) as reply:
        ctype = reply.headers.get("Content-Type", "")
        text = reply.read().decode("utf-8")
    if not ctype.startswith("text/plain; version=0.0.4"):
        sys.exit("promq: unexpected Content-Type %r" % ctype)
    if os.environ.get("PROMQ_SAVE"):
        with open(os.environ["PROMQ_SAVE"], "w") as f:
            f.write(text)
    families = list(text_string_to_metric_families(text))
    if len(argv) == 2:
        print(len(families))
        return
    want = dict(a.split("=", 1) for a in argv[3:])
    total = 0
    for fam in families:
        for s in fam.samples:
            if s.name == argv[2] and all(s.labels.get(k) == v for k, v in want.items()):
                total += s.value
    print(int(total) if total == int(total) else total)


main(sys.argv)
