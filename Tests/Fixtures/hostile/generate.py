#!/usr/bin/env python3
"""Writes the hostile manifest corpus into this directory (the files are committed; rerun
after changing this script). Each file must be rejected by `kuke apply` with a clear message,
in bounded time and memory, changing nothing -- except the `valid-*` files, which must apply
exactly like `valid-plain.yaml`. FIFOs, devices and links are made by the tests themselves. Files named `fuzz-*` are inputs
the fuzzer found (fuzz/run); they are kept as they were found and not written here."""
import os

here = os.path.dirname(os.path.abspath(__file__))
SPACE = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: {name}\nspec:\n  realmId: main\n"
REALM = "apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: main\n---\n"
files = {}

# Valid YAML that must apply like its plain twin.
plain = REALM + SPACE.format(name="twin") + "  network:\n    egress:\n      default: deny\n      allow:\n        - cidr: 10.0.0.0/8\n          ports: [443]\n"
files["valid-plain.yaml"] = plain.encode()
files["valid-bom.yaml"] = b"\xef\xbb\xbf" + plain.encode()
files["valid-crlf.yaml"] = plain.replace("\n", "\r\n").encode()
files["valid-bom-crlf.yaml"] = b"\xef\xbb\xbf" + plain.replace("\n", "\r\n").encode()

# Resource exhaustion.
laughs = ["a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]"]
for i in range(1, 10):
    laughs.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]")
files["alias-bomb.yaml"] = (
    REALM + "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: bomb\n  labels:\n" + "".join(f"    {line}\n" for line in laughs)
    + "spec:\n  realmId: main\n  defaults:\n    container:\n      securityOpts: *a9\n").encode()
files["alias-bomb-top.yaml"] = ("\n".join(laughs) + "\n").encode()
# Yams hashes mapping keys to find duplicates: a key that is an alias of a big collection.
files["alias-as-key.yaml"] = ("\n".join(laughs[:5]) + "\nb: {? *a4 : x}\n").encode()
files["collection-as-key.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  ? [name]\n  : blog\nspec:\n  realmId: main\n".encode()
files["huge-scalar.yaml"] = (SPACE.format(name="huge") + "  cniConfigPath: /" + "a" * (10 * 1024 * 1024) + "\n").encode()
files["deep-nesting-flow.yaml"] = ("x: " + "[" * 100000 + "]" * 100000 + "\n").encode()
files["deep-nesting-map.yaml"] = ("x: " + "{a: " * 100000 + "b" + "}" * 100000 + "\n").encode()
files["many-documents.yaml"] = ("---\n" * 200000).encode()

# Bytes that are not text.
files["non-utf8.yaml"] = (REALM.encode() + b"apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: caf\xe9\nspec:\n  realmId: main\n")
files["nul-byte.yaml"] = (REALM + SPACE.format(name="nul")).encode().replace(b"name: nul", b"name: n\x00ul")
files["utf16.yaml"] = SPACE.format(name="wide").encode("utf-16")

# Syntax.
files["tabs.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n\tname: tabs\nspec:\n  realmId: main\n".encode()
files["duplicate-keys.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: one\n  name: two\nspec:\n  realmId: main\n".encode()
files["duplicate-spaces.yaml"] = (REALM + SPACE.format(name="same") + "---\n" + SPACE.format(name="same")).encode()
files["unterminated.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: \"open\nspec:\n  realmId: main\n".encode()

# Names.
files["traversal-name.yaml"] = SPACE.format(name="../../etc").encode()
files["traversal-realm.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: ok\nspec:\n  realmId: ../..\n".encode()
files["traversal-cni-path.yaml"] = (SPACE.format(name="ok") + "  cniConfigPath: /etc/cni/../../root\n").encode()
files["slash-name.yaml"] = SPACE.format(name="a/b").encode()
files["lookalike-name.yaml"] = SPACE.format(name="bl\u043eg").encode()  # Cyrillic o
files["control-chars-name.yaml"] = SPACE.format(name="\"bl\\x1b[31mog\"").encode()
files["bidi-override-name.yaml"] = SPACE.format(name="\"blog\u202egpj\"").encode()
files["long-name.yaml"] = SPACE.format(name="a" * 300).encode()
files["reserved-name.yaml"] = SPACE.format(name="cgroup.procs").encode()

# Types.
files["number-as-name.yaml"] = SPACE.format(name="123").encode()
files["bool-as-realm.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: ok\nspec:\n  realmId: yes\n".encode()
files["list-as-labels.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: ok\n  labels: [a, b]\nspec:\n  realmId: main\n".encode()
files["huge-integer.yaml"] = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: ok\n  generation: 99999999999999999999999\nspec:\n  realmId: main\n".encode()
files["port-out-of-range.yaml"] = (SPACE.format(name="ok") + "  network:\n    egress:\n      default: deny\n      allow:\n        - cidr: 10.0.0.0/8\n          ports: [0, 65536]\n").encode()
# Numbers that overflow 64 bits when scaled (they stopped kuke with an arithmetic overflow trap).
RESOURCES = SPACE.format(name="ok") + "  resources:\n    {}\n"
files["overflow-cpu-max.yaml"] = RESOURCES.format('cpu: {max: "18446744073709552"}').encode()
files["overflow-memory-fraction.yaml"] = RESOURCES.format("memory: {max: 1.999999999Ei}").encode()
files["overflow-io-rate.yaml"] = RESOURCES.format('io: {max: [{device: "8:0", rbps: 9.999999999E}]}').encode()
files["overflow-page-size.yaml"] = RESOURCES.format("hugetlb: [{pageSize: 99999999999GB, max: 1}]").encode()
files["overflow-page-size-tb.yaml"] = RESOURCES.format("hugetlb: [{pageSize: 99999999999TB, max: 1}]").encode()
files["overflow-pids.yaml"] = RESOURCES.format("pids: {max: 99999999999999999999999}").encode()
files["unknown-kind.yaml"] = "apiVersion: v1beta1\nkind: Pod\nmetadata:\n  name: ok\n".encode()
files["not-a-mapping.yaml"] = "- just\n- a\n- list\n".encode()
files["empty.yaml"] = b""
files["only-comments.yaml"] = b"# nothing here\n"

for name, data in files.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
print(f"wrote {len(files)} files")
