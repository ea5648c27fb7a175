"""The dashboards' shared files as a Flask blueprint: static/dashboard.css and dashboard.js at
/static/..., templates/webkit_macros.html (args, csrf, post) and templates/webkit_base.html, the
page frame that each dashboard's layout.html extends (head, coloured bar, tab row, flash
messages, body)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint(
    "webkit", __name__, static_folder="static", static_url_path="/static", template_folder="templates",
)
