"""The original stack, for comparison: the same API in FastAPI, served by uvicorn.

`app` is the original's handler as written: an `async def` route (as the seed project's
`generate_name` is), so uvicorn runs it on its event loop. `app_def` is the same port as a
plain `def` handler, which FastAPI runs on a thread pool (slower: a thread hop per
request); `cargo xtask bench` reports it as a second, labelled row.

Both: same route, same names (the Rust list, exported to $NAME_API_NAMES by `cargo xtask
bench`), same `starts_with` limits, the same backend-key check (constant-time); the
pregenerated OpenAPI document is not involved: FastAPI generates its own at start-up, as
the original project does.
"""

import hmac
import json
import os
import random
from pathlib import Path
from typing import Annotated, Optional

from fastapi import FastAPI, Header, HTTPException, Query

NAMES = json.loads(Path(os.environ["NAME_API_NAMES"]).read_text(encoding="utf-8"))
BACKEND_KEY = os.environ.get("SPIN_VARIABLE_BACKEND_KEY", "")
RNG = random.SystemRandom()

StartsWith = Annotated[Optional[str], Query(min_length=1, max_length=64)]
BackendKey = Annotated[str, Header()]


def pick(starts_with: Optional[str], x_backend_key: str) -> dict:
    if BACKEND_KEY and not hmac.compare_digest(x_backend_key.encode(), BACKEND_KEY.encode()):
        raise HTTPException(status_code=401, detail="This service is reachable only through its API gateway.")
    names = NAMES
    if starts_with is not None:
        prefix = starts_with.lower()
        names = [n for n in NAMES if n.lower().startswith(prefix)]
        if not names:
            raise HTTPException(status_code=404, detail=f"No name starts with '{starts_with}'.")
    return {"name": RNG.choice(names)}


app = FastAPI(title="name-api (FastAPI baseline, async def)")


@app.get("/generate_name")
async def generate_name(starts_with: StartsWith = None, x_backend_key: BackendKey = ""):
    return pick(starts_with, x_backend_key)


app_def = FastAPI(title="name-api (FastAPI baseline, def on the thread pool)")


@app_def.get("/generate_name")
def generate_name_def(starts_with: StartsWith = None, x_backend_key: BackendKey = ""):
    return pick(starts_with, x_backend_key)
