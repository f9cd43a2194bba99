#!/usr/bin/env python3
"""Lays out the pages swift-argument-parser's generate-manual writes as Debian's man expects.

generate-manual names a page kuke.get.spaces.1 with the name "kuke get spaces", which
lexgrog (and so whatis, apropos and lintian) cannot parse, and it leaves empty lines in the
text, which groff warns about. This writes each page as git does its subcommands:
kuke-get-spaces.1, named kuke-get-spaces in NAME (whatis: "kuke-get-spaces - List spaces."),
the command as typed ("kuke get spaces") in SYNOPSIS, cross-references to the same names,
and paragraph breaks (.Pp) for empty lines. generate-manual leaves out what --help adds to an
option's text, its values and its default ("(values: json, yaml; default: info)"): given the
CLI's `--experimental-dump-help` JSON, they are added to each option's text as --help shows them.
Usage: man-layout.py SOURCE_DIR DEST_DIR [DUMP_HELP_JSON]
"""
import json
import os
import re
import sys

source, dest = sys.argv[1], sys.argv[2]
# "kuke-get-spaces" -> {"output": "(values: json, yaml, wide, name)"}
notes = {}
if len(sys.argv) > 3:
    def walk(command, stem):
        found = {}
        for argument in command.get("arguments", []):
            names = [n["name"] for n in argument.get("names", []) if n.get("kind") == "long"]
            values, default = argument.get("allValues"), argument.get("defaultValue")
            parts = []
            if values:
                parts.append("values: " + ", ".join(values))
            if default and argument.get("kind") == "option":
                parts.append("default: " + default)
            if names and parts:
                found[names[0]] = "(" + "; ".join(parts) + ")"
        notes[stem] = found
        for sub in command.get("subcommands", []):
            walk(sub, stem + "-" + sub["commandName"])
    walk(json.load(open(sys.argv[3], encoding="utf-8"))["command"], "kuke")
for name in sorted(os.listdir(source)):
    if not name.endswith(".1"):
        continue
    stem = name[:-2].replace(".", "-")
    lines = open(os.path.join(source, name), encoding="utf-8").read().split("\n")
    out = []
    section = None
    command = None
    pending = None  # the note of the option whose .It line came last
    for line in lines:
        if pending and not line.startswith("."):
            if "default:" not in line and "values:" not in line:
                line = line + " " + pending
            pending = None
        if line.startswith(".It Fl "):
            long = re.findall(r"-(?:-)?([a-z][a-z0-9-]+)", line)
            pending = next((notes.get(stem, {}).get(name) for name in long if notes.get(stem, {}).get(name)), None)
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
