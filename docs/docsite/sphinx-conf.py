# Appended by hack/docs.sh to the conf.py that `antsibull-docs sphinx-init` generates.
# pylint: disable=undefined-variable,invalid-name

# The operator guide and the other docs/*.md pages (copied to rst/guide/ by hack/docs.sh).
extensions.append("myst_parser")
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
# The build is offline: no intersphinx inventories are fetched. References into the Ansible documentation
# (labels outside this collection, ANSIBLE_* / AZURE_* environment variables) stay plain text; references
# within the collection are still checked (nitpicky, -W).
intersphinx_mapping = {}
nitpick_ignore_regex = [
    ("std:ref", r"(?!ansible_collections\.azure_ops\.rollout\.).*"),
    ("std:envvar", r".*"),
]
# Links in the Markdown pages to files of the repository that are not pages of the site (README.md, playbooks/...).
# Code blocks without a language (console output) are highlighted as YAML+Jinja, the default, where that fails
# Sphinx falls back to plain text: not an error.
suppress_warnings = ["myst.xref_missing", "misc.highlighting_failure"]
