#!/usr/bin/env python3
"""Prints the package's system libraries, one `name pkg-config apt,packages` line each (apt `-` when
none), read from Package.swift, so scripts/fuzz.sh links whatever C libraries the sources import."""
import re, sys

src = open(sys.argv[1] if len(sys.argv) > 1 else 'Package.swift').read()
for m in re.finditer(r'\.systemLibrary\(\s*name:\s*"([^"]+)"\s*,\s*pkgConfig:\s*"([^"]+)"([^\n]*)', src):
    apt = re.search(r'\.apt\(\[([^\]]*)\]', m.group(3))
    names = re.findall(r'"([^"]+)"', apt.group(1)) if apt else []
    print(m.group(1), m.group(2), ','.join(names) or '-')
