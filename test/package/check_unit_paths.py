#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every folder the packaged configuration makes as4d write to is writable for it.

usage: check_unit_paths.py UNIT CONFIG POSTINST

The unit runs with ProtectSystem=strict, so as4d may write only below its ReadWritePaths (and
the StateDirectory systemd makes for it). The folders are resolved from the packaged as4d.yaml
with the defaults of ap/pmode/config.c and medcom_config.c (a relative path is relative to the
configuration's folder): node.data_dir (the store, spool, tmp), node.managed_dir (certificates
and keys changed through the API, default <data_dir>/managed), node.pmode_dir (PModes changed
through the API, default pmodes/ next to the config), the folder of medcom.participants_file
(default <data_dir>/participants.json) and the folder of log.file. Each must be at or below a
writable path of the unit and be created by postinst owned by the as4 user (install -d -o as4),
or lie below such a folder. Prints one line per folder; exit 1 on any gap.
"""
import os
import shlex
import sys

import yaml


def unit_writable(unit):
    paths = []
    for line in open(unit, encoding="utf-8"):
        key, _, value = line.strip().partition("=")
        if key == "ReadWritePaths":
            paths += [p.lstrip("-+") for p in value.split()]
        elif key == "StateDirectory":
            paths += ["/var/lib/" + p for p in value.split()]
        elif key == "LogsDirectory":
            paths += ["/var/log/" + p for p in value.split()]
    return paths


def postinst_owned(script):
    """Folders that `install -d -o as4 ...` lines of postinst create."""
    owned = []
    for line in open(script, encoding="utf-8"):
        words = shlex.split(line, comments=True)
        if words[:2] != ["install", "-d"]:
            continue
        args = words[2:]
        owner = None
        dirs = []
        i = 0
        while i < len(args):
            if args[i] in ("-o", "-g", "-m"):
                if args[i] == "-o":
                    owner = args[i + 1]
                i += 2
                continue
            dirs.append(args[i])
            i += 1
        if owner == "as4":
            owned += dirs
    return owned


def below(path, top):
    path = os.path.normpath(path)
    top = os.path.normpath(top)
    return path == top or path.startswith(top + "/")


def main():
    unit, config, postinst = sys.argv[1:4]
    # the package installs the config as /etc/as4/as4d.yaml: relative paths start there
    base = "/etc/as4"
    doc = yaml.safe_load(open(config, encoding="utf-8")) or {}
    node = doc.get("node") or {}
    medcom = doc.get("medcom") or {}
    log = doc.get("log") or {}

    def resolve(p):
        return os.path.normpath(os.path.join(base, p))

    data = resolve(node.get("data_dir", "data"))
    write = {
        "node.data_dir": data,
        "node.managed_dir": resolve(node["managed_dir"]) if "managed_dir" in node
        else os.path.join(data, "managed"),
        "node.pmode_dir": resolve(node.get("pmode_dir", "pmodes")),
        "medcom.participants_file (folder)": os.path.dirname(
            resolve(medcom["participants_file"]) if "participants_file" in medcom
            else os.path.join(data, "participants.json")),
    }
    if log.get("file"):
        write["log.file (folder)"] = os.path.dirname(resolve(log["file"]))

    writable = unit_writable(unit)
    owned = postinst_owned(postinst)
    failed = 0
    for what, path in write.items():
        covered = [w for w in writable if below(path, w)]
        mine = [o for o in owned if below(path, o)]
        if covered and mine:
            print(f"  ok   {what} {path}: writable by the unit ({covered[0]}), "
                  f"postinst gives it to as4 ({mine[0]})")
            continue
        failed += 1
        if not covered:
            print(f"  FAIL {what} {path}: outside the unit's ReadWritePaths {writable}")
        if not mine:
            print(f"  FAIL {what} {path}: postinst does not create it owned by as4 ({owned})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
