# -*- coding: utf-8 -*-
"""Usage: docs_event_sources.py COLLECTION_ROOT OUT_DIR  (hack/docs.sh runs it with .venv-docs' Python)

antsibull-docs documents modules, plugins and roles, not Event-Driven Ansible event sources (ansible-doc does not
know them). This writes one RST page per extensions/eda/plugins/event_source/*.py from the source's own
DOCUMENTATION and EXAMPLES (with its extends_documentation_fragment merged in, as ansible-doc would), in the layout
of the plugin pages, with the Ansible markup (O(), V(), C(), M(), E(), ...) rendered by antsibull-docs-parser. Prints
the page names (without .rst), one per line.
"""
import ast
import sys
from pathlib import Path

import yaml
from antsibull_docs_parser.parser import Context, parse
from antsibull_docs_parser.rst import to_rst_plain

NAMESPACE, NAME = "azure_ops", "rollout"


def _assignments(path, names):
    """The string constants ``names`` assigned at module level (or in the class body of a doc fragment)."""
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if getattr(target, "id", None) in names:
                    found[target.id] = node.value.value
    return found


def _fragment(root, reference):
    """``ns.coll.fragment[.VAR]`` of this collection -> its parsed YAML."""
    parts = reference.split(".")
    if parts[:2] != [NAMESPACE, NAME]:
        raise SystemExit("docs_event_sources: only this collection's doc fragments are supported, not %s" % reference)
    var = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    text = _assignments(root / "plugins" / "doc_fragments" / (parts[2] + ".py"), {var}).get(var)
    if text is None:
        raise SystemExit("docs_event_sources: doc fragment %s not found" % reference)
    return yaml.safe_load(text)


def _merged(root, doc):
    for reference in doc.pop("extends_documentation_fragment", None) or []:
        fragment = _fragment(root, reference)
        for key, value in fragment.items():
            if key == "options":
                doc.setdefault("options", {})
                for option, spec in value.items():
                    doc["options"].setdefault(option, spec)
            elif isinstance(value, list):
                doc[key] = list(doc.get(key) or []) + value
            else:
                doc.setdefault(key, value)
    return doc


def _rst(text):
    """Ansible markup -> RST. No current plugin in the context: O(name) of the page's own options is a literal."""
    paragraphs = text if isinstance(text, list) else [text]
    return to_rst_plain(parse([str(p) for p in paragraphs], Context()), par_sep="\n\n")


def _indent(text, prefix):
    return "\n".join((prefix + line) if line.strip() else "" for line in text.splitlines())


def _title(text, char):
    return "%s\n%s\n" % (text, char * len(text))


def _option_rows(options, depth=0):
    rows = []
    for name in sorted(options):
        spec = options[name] or {}
        kind = spec.get("type", "str")
        if spec.get("elements"):
            kind += " / elements=%s" % spec["elements"]
        if spec.get("required"):
            kind += " / required"
        comments = [_rst(spec.get("description", ""))]
        if "choices" in spec:
            comments.append("Choices: " + ", ".join("``%s``" % c for c in spec["choices"]))
        if "default" in spec:
            comments.append("Default: ``%s``" % (spec["default"],))
        for env in spec.get("env") or []:
            comments.append("Environment variable: ``%s``" % env["name"])
        label = ("\u00a0\u00a0" * depth) + "**%s**" % name
        aliases = spec.get("aliases")
        if aliases:
            label += " (aliases: %s)" % ", ".join(aliases)
        rows.append("   * - %s\n\n%s\n     - %s" % (
            label, _indent("*%s*" % kind, "       "), _indent("\n\n".join(comments), "       ").lstrip()))
        if spec.get("suboptions"):
            rows.extend(_option_rows(spec["suboptions"], depth + 1))
    return rows


def page(root, path):
    source = _assignments(path, {"DOCUMENTATION", "EXAMPLES"})
    doc = _merged(root, yaml.safe_load(source["DOCUMENTATION"]))
    fqcn = "%s.%s.%s" % (NAMESPACE, NAME, path.stem)
    out = [".. _ansible_collections.%s_event_source:\n" % fqcn,
           _title("%s event source -- %s" % (fqcn, doc["short_description"].rstrip(".")), "="),
           "Use it in a rulebook as ``%s`` (``ansible-rulebook`` with this collection installed)." % fqcn]
    if doc.get("version_added"):
        out.append("New in %s.%s %s." % (NAMESPACE, NAME, doc["version_added"]))
    out.append(".. contents::\n   :local:\n   :depth: 1\n")
    out.append(_title("Synopsis", "-"))
    out.extend("- " + _indent(_rst(p), "  ").lstrip() for p in doc.get("description") or [])
    if doc.get("requirements"):
        out.append(_title("Requirements", "-"))
        out.extend("- " + _rst(r) for r in doc["requirements"])
    out.append(_title("Parameters", "-"))
    out.append(".. list-table::\n   :widths: 25 75\n   :header-rows: 1\n\n   * - Parameter\n     - Comments\n"
               + "\n".join(_option_rows(doc.get("options") or {})))
    if doc.get("notes"):
        out.append(_title("Notes", "-"))
        out.extend("- " + _indent(_rst(n), "  ").lstrip() for n in doc["notes"])
    if source.get("EXAMPLES"):
        out.append(_title("Examples", "-"))
        out.append(".. code-block:: yaml+jinja\n\n" + _indent(source["EXAMPLES"].strip("\n"), "    "))
    if doc.get("author"):
        out.append(_title("Authors", "-"))
        authors = doc["author"] if isinstance(doc["author"], list) else [doc["author"]]
        out.extend("- %s" % a for a in authors)
    return "\n\n".join(out) + "\n"


def main(argv):
    root, out_dir = Path(argv[1]).resolve(), Path(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted((root / "extensions" / "eda" / "plugins" / "event_source").glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = "%s_event_source" % path.stem
        (out_dir / (name + ".rst")).write_text(page(root, path))
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
