"""The app's hardening tests run against one server per module, and a visitor with a small text loaded."""

import pytest
from app_server import running_app
from gradio_client import Client, handle_file
from visitors import TEXT


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("hard"), max_jobs=2, max_upload_mb=1, job_memory_mb=2048) as (app, url):
        yield app, url


@pytest.fixture()
def visitor(server, tmp_path):
    """A client with a corpus and a small trained model (label in .model)."""
    _app, url = server
    c = Client(url, verbose=False)
    path = tmp_path / "orwell.txt"
    path.write_text(TEXT, encoding="utf-8")
    c.predict(None, handle_file(str(path)), 0.1, api_name="/load_corpus")
    return c
