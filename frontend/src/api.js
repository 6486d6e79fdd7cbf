// The React-2-EO API, same origin. Errors carry the server's message (FastAPI's "detail").
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : (detail || []).map((d) => d.msg).join("; ") || `HTTP ${status}`);
    this.status = status;
  }
}

async function request(path, options = {}) {
  const response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...options });
  if (!response.ok) {
    let detail;
    try { detail = (await response.json()).detail; } catch { detail = response.statusText; }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

export const products = () => request("/api/products");

export const countries = () => request("/api/countries");

// Deforestation, city growth, integrity: the places and years where the data show them most.
export const stories = () => request("/api/stories");

export function tileUrl(product, year, band) {
  return `/api/tiles/${encodeURIComponent(product)}/${year}/{z}/{x}/{y}.png${band ? `?band=${encodeURIComponent(band)}` : ""}`;
}

export const createAnimation = (body) => request("/api/animations", { method: "POST", body: JSON.stringify(body) });

export const react = (animationId, body) =>
  request(`/api/animations/${animationId}/reactions`, { method: "POST", body: JSON.stringify(body) });

function query(params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  return q.toString() ? `?${q}` : "";
}

export const reactionStats = (params) => request(`/api/reactions/stats${query(params)}`);
export const reactionSummary = (params) => request(`/api/reactions/summary${query(params)}`);
