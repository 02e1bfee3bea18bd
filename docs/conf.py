"""Sphinx configuration of the airflow-provider-oos docs (``make docs``).

The API reference imports the package, so the build runs in ``.venv`` (Airflow installed).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Airflow initialises itself (settings, logging: pydantic models) on first import. Do it here, before
# autodoc inspects any model; an Airflow first imported midway through autodoc fails to build its
# own log models.
import airflow  # noqa: E402, F401

from airflow_provider_oos import __version__  # noqa: E402

project = "airflow-provider-oos"
author = "airflow-provider-oos contributors"
copyright = "airflow-provider-oos contributors"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
language = "en"

# API reference: members in source order, typed signatures, no inherited Airflow members.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# ignore-module-all: a re-exported class is documented once, in the module that defines it.
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autoclass_content = "class"
napoleon_google_docstring = False
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"airflow-provider-oos {release}"
html_static_path: list[str] = []
