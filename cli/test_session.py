#!/usr/bin/env python3
"""test_session.py DELTAVEC CLI_MD WORKDIR -- runs the examples of docs/CLI.md.

Every block between <!-- cli-session --> and <!-- /cli-session --> is a
console transcript: a line starting with "$ " is a command, the lines after
it (up to the next command or the end of the block) its expected standard
output. The blocks run in order in one scratch directory, with the built
deltavec first on PATH; each command must exit 0 and print exactly the
expected lines, where "..." matches any text and numbers with a fraction or
exponent match to 4 significant digits. Run by ctest (cli_session), so the
document cannot drift from the command.
"""
import os
import re
import shutil
import subprocess
import sys

NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"


def blocks(text):
    """The transcripts: lists of (command, [expected lines])."""
    out = []
    for body in re.findall(r"<!-- cli-session -->(.*?)<!-- /cli-session -->", text, re.S):
        lines = re.search(r"```console\n(.*?)```", body, re.S).group(1).splitlines()
        steps = []
        for line in lines:
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
            else:
                raise SystemExit("output before the first command: " + line)
        out.append(steps)
    return out


def line_pattern(expected):
    """A regex for one expected line, and its numbers (None where exact text is enough)."""
    parts, numbers = [], []
    for i, chunk in enumerate(expected.split("...")):
        if i:
            parts.append(".*?")
        pos = 0
        for m in re.finditer(NUMBER, chunk):
            parts.append(re.escape(chunk[pos:m.start()]))
            parts.append("(" + NUMBER + ")")
            numbers.append(m.group(0))
            pos = m.end()
        parts.append(re.escape(chunk[pos:]))
    return re.compile("".join(parts)), numbers


def same_number(want, got):
    if want == got:
        return True
    if not re.search(r"[.eE]", want):
        return False  # integers (sequences, counts) exactly
    a, b = float(want), float(got)
    return abs(a - b) <= 1e-4 * max(abs(a), abs(b))


def matches(expected, actual):
    pattern, numbers = line_pattern(expected)
    m = pattern.fullmatch(actual)
    return m is not None and all(same_number(w, g) for w, g in zip(numbers, m.groups()))


def main():
    deltavec, doc, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(deltavec)) + os.pathsep + os.environ["PATH"])
    steps = [s for b in blocks(open(doc, encoding="utf-8").read()) for s in b]
    if not steps:
        raise SystemExit("FAIL: no cli-session block in " + doc)
    for command, expected in steps:
        r = subprocess.run(["sh", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        actual = r.stdout.splitlines()
        if r.returncode != 0:
            raise SystemExit("FAIL: '%s' exited %d: %s" % (command, r.returncode, r.stderr))
        if len(actual) != len(expected) or not all(matches(e, a) for e, a in zip(expected, actual)):
            raise SystemExit("FAIL: '%s' printed\n%s\nnot\n%s" % (command, "\n".join(actual), "\n".join(expected)))
    print("ok: %d commands" % len(steps))


if __name__ == "__main__":
    main()
