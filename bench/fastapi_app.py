"""The original stack, for comparison: the same API in FastAPI, served by uvicorn.

Same route, same names (the Rust list, exported to $NAME_API_NAMES by `cargo xtask
bench`), same `starts_with` limits, the same backend-key check (constant-time), and the
pregenerated OpenAPI document is not involved: FastAPI generates its own at start-up,
as the original project does.
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

app = FastAPI(title="name-api (FastAPI baseline)")


@app.get("/generate_name")
def generate_name(
    starts_with: Annotated[Optional[str], Query(min_length=1, max_length=64)] = None,
    x_backend_key: Annotated[str, Header()] = "",
):
    if BACKEND_KEY and not hmac.compare_digest(x_backend_key.encode(), BACKEND_KEY.encode()):
        raise HTTPException(status_code=401, detail="This service is reachable only through its API gateway.")
    names = NAMES
    if starts_with is not None:
        prefix = starts_with.lower()
        names = [n for n in NAMES if n.lower().startswith(prefix)]
        if not names:
            raise HTTPException(status_code=404, detail=f"No name starts with '{starts_with}'.")
    return {"name": RNG.choice(names)}
