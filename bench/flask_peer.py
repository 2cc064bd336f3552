"""Our minimal model of the published Flask pattern (../shared/seeds/): read the `visits` file,
add one, rewrite it in place, answer a page with the time in Moscow. No lock and no fsync, as
published; under gunicorn -w 4 the workers race, so visits are lost. bench/bench.py runs it as
the peer reference and counts what the file kept.

Run: DATA_DIR=DIR gunicorn -w 4 -b 127.0.0.1:PORT --chdir bench flask_peer:app
"""

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

app = Flask(__name__)
VISITS = os.path.join(os.environ.get("DATA_DIR", "data"), "visits")
MOSCOW = ZoneInfo("Europe/Moscow")


@app.route("/")
def index():
    try:
        with open(VISITS) as f:
            visits = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        visits = 0
    visits += 1
    with open(VISITS, "w") as f:
        f.write(f"{visits}\n")
    now = datetime.now(MOSCOW)
    return (f"<!doctype html><html><head><title>Time in Moscow</title></head><body>"
            f"<h1>{now:%H:%M:%S}</h1><p>{now:%Y-%m-%d} Europe/Moscow (UTC{now:%z})</p>"
            f"<p>Visits: {visits}</p></body></html>")
