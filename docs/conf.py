"""Sphinx configuration of the tcpframe documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` in an
environment where tcpframe is installed with its ``docs`` extra.
"""

import tcpframe

project = "tcpframe"
author = "tcpframe developers"
copyright = "tcpframe developers; GPL-3.0-or-later"
version = release = tcpframe.__version__

extensions = ["sphinx.ext.autodoc", "numpydoc"]

exclude_patterns = ["_build"]
# `Name` in docstrings and pages refers to a Python object.
default_role = "py:obj"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# numpydoc renders each class's Parameters and Attributes; autodoc lists
# the members.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "alabaster"
html_theme_options = {
    "description": "Fast asyncio TCP framing, a drop-in lsst.ts.tcpip",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []
