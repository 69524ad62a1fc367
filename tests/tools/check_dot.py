"""Parse `pimplan paths --format dot` output with pydot (no Graphviz needed) and check its shape.

    python3 tests/tools/check_dot.py FILE...

Each FILE must be one `digraph pimplan_paths` with `rankdir=LR`, whose edges join declared
nodes. Prints one PASS line per file (nodes, edges); exits 1 on the first file that does not
parse or check. Needs: pip install -r tests/tools/requirements.txt (pydot).
"""

import sys

import pydot


def check(path):
    text = open(path, encoding="utf-8").read()
    graphs = pydot.graph_from_dot_data(text)
    if not graphs or len(graphs) != 1:
        raise ValueError("not exactly one graph")
    g = graphs[0]
    if g.get_type() != "digraph" or g.get_name() != "pimplan_paths":
        raise ValueError(f"expected digraph pimplan_paths, got {g.get_type()} {g.get_name()}")
    if g.get("rankdir") != "LR":
        raise ValueError("rankdir is not LR")
    nodes = {n.get_name() for n in g.get_nodes() if n.get_name() not in ("node", "edge", "graph")}
    edges = g.get_edges()
    for e in edges:
        for end in (e.get_source(), e.get_destination()):
            if end not in nodes:
                raise ValueError(f"edge end {end} is not a declared node")
    return len(nodes), len(edges)


def main(paths):
    if not paths:
        print("usage: check_dot.py FILE...", file=sys.stderr)
        return 2
    for path in paths:
        try:
            n, e = check(path)
        except Exception as err:  # pydot raises several kinds on bad input
            print(f"FAIL: {path}: {err}")
            return 1
        print(f"PASS: {path}: {n} nodes, {e} edges (pydot {pydot.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
