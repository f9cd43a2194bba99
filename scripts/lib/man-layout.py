#!/usr/bin/env python3
"""Lays out the pages swift-argument-parser's generate-manual writes as Debian's man expects.

generate-manual names a page kuke.get.spaces.1 with the name "kuke get spaces", which
lexgrog (and so whatis, apropos and lintian) cannot parse, and it leaves empty lines in the
text, which groff warns about. This writes each page as git does its subcommands:
kuke-get-spaces.1, named kuke-get-spaces in NAME (whatis: "kuke-get-spaces - List spaces."),
the command as typed ("kuke get spaces") in SYNOPSIS, cross-references to the same names,
and paragraph breaks (.Pp) for empty lines.
Usage: man-layout.py SOURCE_DIR DEST_DIR
"""
import os
import re
import sys

source, dest = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(source)):
    if not name.endswith(".1"):
        continue
    stem = name[:-2].replace(".", "-")
    lines = open(os.path.join(source, name), encoding="utf-8").read().split("\n")
    out = []
    section = None
    command = None
    for line in lines:
        if line.startswith(".Sh "):
            section = line[4:].strip('"')
        if line.startswith(".Dt "):
            line = ".Dt " + stem.upper() + " " + line.split()[-1]
        elif line.startswith(".Nm ") and section == "NAME":
            if command is not None:
                continue  # an alias ("space" beside "kuke get spaces"): not a name man can find
            command = re.sub(r'\s*,$', "", line[4:]).strip('"')
            line = ".Nm " + stem
        elif line == ".Nm" and section == "SYNOPSIS" and command:
            line = '.Nm "' + command + '"'
        elif line.startswith(".Nd "):
            line = ".Nd " + line[4:].strip('"')
        elif line.startswith(".Xr "):
            line = re.sub(r"^\.Xr (\S+)", lambda m: ".Xr " + m.group(1).replace(".", "-"), line)
        elif line == "" and section not in (None, "NAME"):
            line = ".Pp"
        out.append(line)
    while out and out[-1] in ("", ".Pp"):
        out.pop()
    with open(os.path.join(dest, stem + ".1"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
