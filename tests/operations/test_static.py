"""Static files as production serves them: hashed names, brotli and gzip, kept for a year;
plotly.min.js from the installed package and nothing else of it."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage

from revtrend_site.storage import PlotlyFinder
from tests.conftest import require

HASHED = re.compile(r"/static/plotly/plotly\.min\.[0-9a-f]{12}\.js")


def test_only_plotly_min_js_is_taken_from_the_plotly_package():
    finder = PlotlyFinder()
    assert [name for name, _ in finder.list([])] == ["plotly.min.js"]
    assert finder.find("plotly/plotly.min.js").endswith("package_data/plotly.min.js")
    assert finder.find("plotly/datasets/iris.csv.gz") is None
    assert finders.find("plotly/plotly.min.js")


def test_a_file_not_collected_yet_keeps_its_plain_name():
    assert staticfiles_storage.url("js/not-there-yet.js") == "/static/js/not-there-yet.js"


@pytest.mark.django_db
def test_collected_files_are_hashed_compressed_and_kept_for_a_year(client):
    manifest = settings.STATIC_ROOT / "staticfiles.json"
    require(manifest.exists(), "needs the collected static files (make setup)")
    url = staticfiles_storage.url("plotly/plotly.min.js")
    assert HASHED.fullmatch(url), url
    response = client.get(url, HTTP_ACCEPT_ENCODING="br, gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "br"
    assert (
        "immutable" in response["Cache-Control"]
        and "max-age=315360000" in response["Cache-Control"]
    )
    size = sum(len(chunk) for chunk in response.streaming_content)
    assert size < 1_500_000  # 4.8 MB as it is
