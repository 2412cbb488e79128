// The JSON API (/v1/*) as the UI uses it: the key from sessionStorage, OpenAI-shaped errors as ApiError.

const KEY = "ragtune.key";

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = getKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || null;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message, code);
}

async function send(method, path, { json, form, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `the server did not answer (${err.message})`, "network");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export const api = {
  async get(path) {
    return (await send("GET", path)).json();
  },
  async text(path) {
    return (await send("GET", path)).text();
  },
  async post(path, json) {
    return (await send("POST", path, { json })).json();
  },
  async upload(path, form) {
    return (await send("POST", path, { form })).json();
  },
  async del(path) {
    return (await send("DELETE", path)).json();
  },
};

// One streamed chat completion. onToken(text) for each piece; resolves with
// {text, citations, kb_version, usage, finish_reason, first_ms, total_ms, pieces}.
export async function streamChat(body, onToken, signal) {
  const started = performance.now();
  const response = await send("POST", "/v1/chat/completions", {
    json: { ...body, stream: true, stream_options: { include_usage: true } },
    signal,
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const out = { text: "", citations: [], kb_version: null, usage: null, finish_reason: null, first_ms: null, pieces: 0 };
  let buffer = "";
  const handle = (data) => {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data);
    if (chunk.error) throw new ApiError(500, chunk.error.message || "the answer failed", chunk.error.code);
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices || []) {
      const piece = choice.delta && choice.delta.content;
      if (piece) {
        if (out.first_ms === null) out.first_ms = performance.now() - started;
        out.text += piece;
        out.pieces += 1;
        onToken(piece, out.text);
      }
      if (choice.finish_reason) out.finish_reason = choice.finish_reason;
    }
    if (chunk.citations) out.citations = chunk.citations;
    if (chunk.kb_version !== undefined && chunk.kb_version !== null) out.kb_version = chunk.kb_version;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) handle(data);
    }
    if (done) break;
  }
  out.total_ms = performance.now() - started;
  return out;
}
