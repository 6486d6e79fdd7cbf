// React-2-EO service worker: keeps the app shell, and the last products and map tiles seen, so
// that the app opens without a network and shows what it showed last (with its offline
// notice). Everything else of the API (animations, reactions, statistics) goes to the network.
const CACHE = "r2eo-__VERSION__";
const SHELL = __SHELL__;
// The data cache outlives app versions: the tiles of a product-year do not change with the app.
const DATA = "r2eo-data-v1";
const MAX_DATA_ENTRIES = 600; // ~600 tiles of 256 px: a few screens of several years, ~10 MB
// API reads kept for offline use, fetched network first: the product list, the countries, tiles.
const KEPT = [/^\/api\/products$/, /^\/api\/countries$/, /^\/api\/tiles\//];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys
      .filter((k) => k.startsWith("r2eo-") && k !== CACHE && k !== DATA)
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

let added = 0;

// Oldest entries out (Cache keys come back in insertion order), checked every 50 writes.
async function trim(cache) {
  const keys = await cache.keys();
  await Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_DATA_ENTRIES)).map((k) => cache.delete(k)));
}

async function networkFirst(request) {
  const cache = await caches.open(DATA);
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
      if (++added % 50 === 0) trim(cache);
    }
    return response;
  } catch (error) {
    const hit = await cache.match(request, { ignoreVary: true });
    if (hit) return hit;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/")) {
    if (KEPT.some((re) => re.test(url.pathname))) event.respondWith(networkFirst(event.request));
    return;
  }
  if (url.pathname.startsWith("/assets/")) {
    // Hashed names never change: cache first. The server varies files by Accept-Encoding (their
    // brotli or gzip twin), which the browser decodes before caching: any stored one will do.
    event.respondWith(caches.match(event.request, { ignoreVary: true }).then((hit) => hit || fetch(event.request)));
    return;
  }
  // Pages: network first, the cached shell when offline.
  event.respondWith(fetch(event.request)
    .catch(() => caches.match(event.request, { ignoreSearch: true, ignoreVary: true })));
});
