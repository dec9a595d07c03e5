"""The report's charts as plotly.js calls, written without importing plotly's Python figure classes.

Importing plotly and validating three small figures cost a run more time than the backtest itself. The
page only needs what ``plotly.io.to_html`` would write for a figure (the trace and layout dicts as
plotly orders them, serialised with orjson and made safe for a ``<script>``), and the bundled
``plotly.min.js``. Both come from the installed plotly package: the script is read from its package
data, and the expanded ``plotly_white`` template (the one part whose key order only plotly's schema
knows) is rendered by plotly once per plotly version and kept in the cache (``backtest/cache.py``).
``tests/test_backtest.py`` checks the output byte for byte against plotly's own rendering.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from ..cache import package_version, read_text, write_text

TEMPLATE = "plotly_white"
MARGIN = {"l": 50, "r": 20, "t": 40, "b": 40}
HEIGHT = 320
CONFIG = {"displaylogo": False, "responsive": True}
# plotly.io's escapes for JSON inside <script> (its orjson engine).
_SWAPS = (("<", "\\u003c"), (">", "\\u003e"), ("/", "\\u002f"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _package_dir() -> Path:
    spec = importlib.util.find_spec("plotly")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("plotly is not installed (it ships the report's chart script)")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly's bundled plotly.min.js (what ``plotly.offline.get_plotlyjs()`` returns)."""
    return (_package_dir() / "package_data" / "plotly.min.js").read_bytes().decode("utf-8")


def safe_json(value: Any) -> str:
    """JSON as plotly.io writes it into a page: orjson, compact, with <, >, / and line separators escaped."""
    out = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    for unsafe, safe in _SWAPS:
        if unsafe in out:
            out = out.replace(unsafe, safe)
    return out


def _render_template() -> str:
    """The template as a figure's layout holds it (plotly re-orders it by its schema on assignment)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(template=TEMPLATE)
    return safe_json(fig.to_dict()["layout"]["template"])


@lru_cache(maxsize=1)
def template_json() -> str:
    """The expanded ``plotly_white`` template as JSON text, from the cache when present."""
    version = package_version("plotly", "plotly")
    if version is None:
        return _render_template()
    name = f"plotly-{version}-{TEMPLATE}-template.json"
    text = read_text(name)
    if text and text.startswith("{") and text.endswith("}"):
        return text
    text = _render_template()
    write_text(name, text)
    return text


def scatter(x: list[Any], y: list[Any], name: str, *, mode: str | None = None, fill: str | None = None) -> dict:
    """A scatter trace with its keys in plotly's order."""
    trace: dict[str, Any] = {}
    if fill is not None:
        trace["fill"] = fill
    if mode is not None:
        trace["mode"] = mode
    trace.update({"name": name, "x": list(x), "y": list(y), "type": "scatter"})
    return trace


def bar(x: list[Any], y: list[Any], name: str) -> dict:
    return {"name": name, "x": list(x), "y": list(y), "type": "bar"}


def chart(div_id: str, traces: list[dict], title: str, *, category_x: bool = False) -> str:
    """The ``<div>`` plotly.io.to_html writes (no plotly.js, not a full page) for the figure with these
    traces, the title, the report's margins and height and the plotly_white template."""
    rest: dict[str, Any] = {"title": {"text": title}}
    if category_x:
        rest["xaxis"] = {"type": "category"}
    rest.update({"margin": MARGIN, "height": HEIGHT})
    layout = '{"template":' + template_json() + "," + safe_json(rest)[1:]
    # The same text, spaces included, as plotly.io.to_html (full_html=False, include_plotlyjs=False).
    script = _SCRIPT.format(id=div_id, data=safe_json(traces), layout=layout, config=json.dumps(CONFIG))
    return _DIV.format(id=div_id, height=f"{HEIGHT}px", width="100%", script=script).strip()


_SCRIPT = """\
                if (document.getElementById("{id}")) {{\
                    Plotly.newPlot(\
                        "{id}",\
                        {data},\
                        {layout},\
                        {config}\
                    )\
                }}"""

_DIV = """\
<div style="height:{height}; width:{width};">\
                \
            <div id="{id}" class="plotly-graph-div" \
style="height:100%; width:100%;"></div>\
            <script>\
                window.PLOTLYENV=window.PLOTLYENV || {{}};\
                {script};\
            </script>\
        </div>"""
