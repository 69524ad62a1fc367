// Render `pimplan paths --format dot` output with real Graphviz (its WebAssembly build,
// @hpcc-js/wasm-graphviz, pinned in tests/tools/package-lock.json) and the `dot` layout.
//
//     node tests/tools/render_dot.mjs < graph.dot > graph.svg
//     node tests/tools/render_dot.mjs FILE...
//
// With no FILE it reads one graph on stdin and writes its SVG to stdout. With FILEs it writes
// each graph's SVG to FILE.svg and prints `rendered FILE (Graphviz VERSION)`. It exits 1 with
// Graphviz's own error (`FAIL: FILE: syntax error in line 3 near ...`) on the first graph that
// does not render, or that renders to something that is not an SVG; 3 when the package is not
// installed. Install: npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error

import { readFileSync, writeFileSync } from "node:fs";

const INSTALL = "npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error";

let Graphviz;
try {
    ({ Graphviz } = await import("@hpcc-js/wasm-graphviz"));
} catch (err) {
    process.stderr.write(
        `@hpcc-js/wasm-graphviz is not installed (${err.code ?? err.message}): run \`${INSTALL}\`\n`,
    );
    process.exit(3);
}

const graphviz = await Graphviz.load();

// One graph to SVG, or an Error carrying Graphviz's message.
function render(source) {
    if (source.trim() === "") {
        throw new Error("empty input");
    }
    let svg;
    try {
        svg = graphviz.dot(source, "svg");
    } catch (err) {
        throw new Error(String(err.message ?? err).trim());
    }
    if (!svg.includes("<svg")) {
        throw new Error(`Graphviz returned no SVG: ${svg.slice(0, 200)}`);
    }
    return svg;
}

const files = process.argv.slice(2);
if (files.length === 0) {
    try {
        process.stdout.write(render(readFileSync(0, "utf8")));
    } catch (err) {
        process.stderr.write(`FAIL: <stdin>: ${err.message}\n`);
        process.exit(1);
    }
} else {
    for (const file of files) {
        try {
            const svg = render(readFileSync(file, "utf8"));
            writeFileSync(`${file}.svg`, svg);
            process.stdout.write(`rendered ${file} (Graphviz ${graphviz.version()})\n`);
        } catch (err) {
            process.stderr.write(`FAIL: ${file}: ${err.message}\n`);
            process.exit(1);
        }
    }
}
