#!/usr/bin/env python3
"""Fails when modules of a crate import each other in a cycle.

A module's references are its `crate::a::b` and `super::x` paths, and a parent uses its children;
a child's use of its parent (`super::AppState` in `api/guard.rs`) is how Rust modules nest and is
not counted. So `web -> api -> api::guard -> web` is a cycle. Usage:
    scripts/import-cycles.py server/src sim/src domain/src app/src
"""
import os
import re
import sys

TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod tests\s*\{")
# A path in a comment (a doc link) is not an import.
COMMENT = re.compile(r"//.*")
PATH_START = re.compile(r"\b(crate|super)::")
IDENT_PATH = re.compile(r"[a-z_0-9]+(?:::[a-z_0-9]+)*")


def without_test_modules(source):
    """The source without its `#[cfg(test)] mod tests { .. }` blocks (braces matched)."""
    while True:
        found = TEST_MODULE.search(source)
        if not found:
            return source
        depth, end = 1, found.end()
        while end < len(source) and depth:
            depth += {"{": 1, "}": -1}.get(source[end], 0)
            end += 1
        source = source[: found.start()] + source[end:]


def expand(text, at):
    """Paths of the use-tree starting at `text[at]`: `a::b`, or `{a::b, c::{d, e}}` grouped."""
    if at < len(text) and text[at] == "{":
        paths, depth, item_start, i = [], 1, at + 1, at + 1
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            if depth == 1 and text[i] == "," or depth == 0:
                item = text[item_start:i].strip()
                if item:
                    paths += expand(item, 0)
                item_start = i + 1
            i += 1
        return paths
    found = IDENT_PATH.match(text, at)
    if not found:
        return []
    head = found.group(0)
    rest = found.end()
    if text.startswith("::{", rest):
        return [f"{head}::{p}" for p in expand(text, rest + 2)] or [head]
    return [head]


def references_of(source):
    """(`crate` or `super`, path) for every path the source names, groups expanded."""
    for found in PATH_START.finditer(source):
        for path in expand(source, found.end()):
            yield found.group(1), path


def modules_of(src_dir):
    found = {}
    for folder, _, files in os.walk(src_dir):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, src_dir)[:-3].split(os.sep)
            if parts == ["main"] and os.path.exists(os.path.join(src_dir, "lib.rs")):
                # A binary beside a library is a crate of its own; its `crate::` is not the library's.
                continue
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            found["::".join(parts)] = path
    return found


def module_of(reference, modules):
    segments = reference.split("::")
    for end in range(len(segments), 0, -1):
        candidate = "::".join(segments[:end])
        if candidate in modules:
            return candidate
    return None


def edges_of(modules):
    edges = {m: set() for m in modules}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            source = without_test_modules(COMMENT.sub("", f.read()))
        parent = "::".join(module.split("::")[:-1])
        if module:
            edges.setdefault(parent, set()).add(module)
        references = [
            path if kind == "crate" else (f"{parent}::{path}" if parent else path)
            for kind, path in references_of(source)
        ]
        for reference in references:
            target = module_of(reference, modules)
            if target and target != module and not module.startswith(target + "::"):
                edges[module].add(target)
    return edges


def cycles_of(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def main(src_dirs):
    failed = False
    for src_dir in src_dirs:
        if not os.path.isdir(src_dir):
            continue
        for cycle in cycles_of(edges_of(modules_of(src_dir))):
            print(f"{src_dir}: import cycle: {' <-> '.join(cycle)}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
