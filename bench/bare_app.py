"""The baseline for the API throughput figure: a bare FastAPI endpoint returning constant JSON,
served by the same uvicorn the same way (`python bench/bare_app.py PORT`)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()
BODY = {
    "id": "1",
    "status": "completed",
    "num_records": 42,
    "results": [{"url": "http://127.0.0.1/v4/files/1/1_1.txt"}],
    "created_at": "2024-12-25T10:00:00Z",
}


@app.get("/const")
def constant() -> dict[str, object]:
    return BODY


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
