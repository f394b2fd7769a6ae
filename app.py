"""Start the charlm teaching app: ``python app.py`` then open http://127.0.0.1:7860."""

import argparse
import contextlib
import logging
import os

with contextlib.suppress(ImportError):  # on a ZeroGPU Space: before anything touches CUDA (see demo/runners.py)
    import spaces  # noqa: F401

# oneDNN (torch's CPU kernels) caches up to 1,024 compiled kernels, each with its buffers, for every shape it
# meets; a class brings many shapes. 64 keeps the few a training reuses; read once, before torch starts.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
# Gradio keeps a record of each of the last 10,000 requests (function, timings, session) for its monitoring
# page: several MB that stay after a class has gone. The last 1,000 are plenty to see how the server is doing.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

from demo.app import AppConfig, CharLMApp
from demo.process import freeze_what_start_up_built


def main() -> None:
    parser = argparse.ArgumentParser(description="The charlm teaching app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also open a temporary public link")
    parser.add_argument("--max-jobs", type=int, default=None, help="trainings at once, for all visitors (default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = AppConfig.from_env()
    except ValueError as err:  # a mistyped setting: say which, not a stack trace
        raise SystemExit(f"charlm: {err}") from None
    if args.max_jobs is not None:
        config.max_jobs = args.max_jobs
    app = CharLMApp(config)
    page = app.build()
    freeze_what_start_up_built()
    app.launch(page, server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
