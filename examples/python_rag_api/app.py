"""The seed's multi-tenant RAG API, metered with meterd's Python client.

Every answer costs a query plus its input and output tokens. MeteringMiddleware attributes each
request to the tenant in the X-Tenant-ID header, refuses it with 429 while a hard quota is used
up, and tracks the `query`; the endpoint tracks the tokens it spent. UsageTracker only queues
events: a background thread ships them to meterd in batches (or spills them while meterd is
down). Run:  METERD_URL=http://127.0.0.1:8000 uvicorn app:app --port 8080
"""
import os

from fastapi import FastAPI, Header, HTTPException

import meterd

tracker = meterd.UsageTracker(spill_path=os.environ.get("FALLBACK_FILE_PATH", "rag_api-spill.jsonl"))
client = meterd.Client()


def tenant_of(scope):
    """The tenant an /ask request is billed to: its X-Tenant-ID header (None: not metered)."""
    if scope["path"] != "/ask":
        return None
    for name, value in scope.get("headers", []):
        if name == b"x-tenant-id":
            return value.decode("latin-1") or None
    return None


app = FastAPI(title="RAG API (metered by meterd)")
app.add_middleware(meterd.MeteringMiddleware, tracker=tracker, client=client, tenant_of=tenant_of,
                   event_type="query", admission=os.environ.get("METERING_ADMISSION", "check"))


def answer(question):
    """A stand-in for retrieval and generation: the prompt is the question plus three retrieved
    passages; the answer is short. Returns (text, input_tokens, output_tokens)."""
    passages = ["passage %d about %s" % (i, question) for i in range(3)]
    prompt = question + " " + " ".join(passages)
    text = "An answer about %s." % question
    return text, len(prompt.split()) * 4, len(text.split()) * 4


@app.get("/health")
def health():
    return {"status": "ok", "tracker": tracker.stats.__dict__}


@app.get("/ask")
def ask(q: str, x_tenant_id: str = Header(...)):
    text, input_tokens, output_tokens = answer(q)
    tracker.track_tokens(x_tenant_id, input_tokens, output_tokens, model="stand-in-1")
    return {"answer": text, "input_tokens": input_tokens, "output_tokens": output_tokens}


@app.get("/usage")
def usage(x_tenant_id: str = Header(...)):
    """The tenant's usage this month, from meterd (decimals as strings, exact)."""
    try:
        u = client.usage(x_tenant_id, window="month")
    except meterd.MeterdError as e:
        raise HTTPException(e.status or 503, e.detail)
    return {r.event_type: str(r.quantity) for r in u.totals}


@app.on_event("shutdown")
def ship_before_exit():
    tracker.close()
