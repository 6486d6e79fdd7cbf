// Interface strings: Spanish by default, English on request (kept in localStorage).
const STRINGS = {
  es: {
    tagline: "Mira cómo cambió tu región desde el espacio",
    dashboard: "Tablero", viewer: "Visor", reportsLink: "Informes y fichas por región (PDF)", placesCredit: "Nombres de lugares: GeoNames (CC BY 4.0)", offline: "Sin conexión: el mapa no se actualizará hasta que vuelvas a estar en línea.",
    play: "Reproducir", pause: "Pausa", years: "Años", from: "Desde", to: "Hasta", year: "Año",
    export: "Exportar GIF", exporting: "Creando tu GIF…", yourGif: "Tu animación", download: "Descargar",
    share: "Compartir", gifLink: "Enlace al GIF", copyLink: "Copiar enlace", copied: "Enlace copiado", question: "¿Qué te parece este cambio?", like: "Me gusta", dislike: "No me gusta",
    close: "Cerrar", thanks: "¡Gracias! Puedes cambiar tu respuesta.", sendFailed: "No se pudo enviar; inténtalo de nuevo.",
    exportFailed: "No se pudo crear el GIF", noData: "Mueve el mapa hacia la zona con datos.",
    allYears: "Todos los años", allProducts: "Todos", reactions: "reacciones", likes: "me gusta",
    dislikes: "no me gusta", animations: "animaciones", topRegions: "Regiones con más reacciones",
    region: "Región", product: "Producto", updated: "Actualizado", likeShare: "Proporción de «me gusta»",
    fewReactions: "Las celdas con menos de {k} reacciones no se muestran.", switchTo: "English",
    noReactions: "Aún no hay regiones con {k} reacciones o más. Exporta un GIF en el visor y di qué te parece.",
    nearMe: "Cerca de mí", locationFailed: "No pudimos saber dónde estás.",
    loading: "Cargando…", unavailable: "No hay productos publicados todavía.", country: "País",
    trueColour: "Color verdadero: rojo, verde y azul como los ve el ojo.",
    falseColour: "Falso color: infrarrojo cercano, SWIR y rojo; la vegetación en verde.",
    baseMaps: "Mapa base", baseSimple: "Mapa simple (sin conexión)", baseOsm: "OpenStreetMap (en línea)",
    stories: "Historias", compare: "Antes y después", compareClose: "Volver a la animación",
    compareSlider: "Línea entre {from} y {to}", storyShown: "{title}: {summary}, {from}–{to}.",
  },
  en: {
    tagline: "See how your region changed from space",
    dashboard: "Dashboard", viewer: "Viewer", reportsLink: "Reports and region cards (PDF)", placesCredit: "Place names: GeoNames (CC BY 4.0)", offline: "Offline: the map will not update until you are back online.",
    play: "Play", pause: "Pause", years: "Years", from: "From", to: "To", year: "Year",
    export: "Export GIF", exporting: "Making your GIF…", yourGif: "Your animation", download: "Download",
    share: "Share", gifLink: "Link to the GIF", copyLink: "Copy link", copied: "Link copied", question: "How do you feel about this change?", like: "Like", dislike: "Dislike",
    close: "Close", thanks: "Thank you! You can change your answer.", sendFailed: "Could not send; please try again.",
    exportFailed: "Could not make the GIF", noData: "Move the map to the area with data.",
    allYears: "All years", allProducts: "All", reactions: "reactions", likes: "likes",
    dislikes: "dislikes", animations: "animations", topRegions: "Most reacted-to regions",
    region: "Region", product: "Product", updated: "Updated", likeShare: "Share of likes",
    fewReactions: "Cells with fewer than {k} reactions are hidden.", switchTo: "Español",
    noReactions: "No region has {k} or more reactions yet. Export a GIF in the viewer and say what you think.",
    nearMe: "Near me", locationFailed: "We could not tell where you are.",
    loading: "Loading…", unavailable: "No products are published yet.", country: "Country",
    trueColour: "True colour: red, green and blue as the eye sees them.",
    falseColour: "False colour: near infrared, SWIR and red; vegetation in green.",
    baseMaps: "Base map", baseSimple: "Simple map (offline)", baseOsm: "OpenStreetMap (online)",
    stories: "Stories", compare: "Before and after", compareClose: "Back to the animation",
    compareSlider: "Divide between {from} and {to}", storyShown: "{title}: {summary}, {from}–{to}.",
  },
};

const stored = (() => { try { return localStorage.getItem("r2eo-lang"); } catch { return null; } })();
export let lang = stored === "en" ? "en" : "es";
const listeners = [];

export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.es[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Translate every element with data-i18n, and call the listeners (for dynamic text). */
export function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  // the published reports (served by the API) in the same language
  for (const a of document.querySelectorAll("a[href^='/reports']")) a.setAttribute("href", `/reports?lang=${lang}`);
  const button = document.getElementById("lang");
  if (button) {
    // The accessible name starts with what the button shows ("EN"), then says what it does.
    button.textContent = lang === "es" ? "EN" : "ES";
    button.setAttribute("aria-label", `${button.textContent}: ${t("switchTo")}`);
  }
  for (const fn of listeners) fn(lang);
}

export function onLanguage(fn) { listeners.push(fn); }

export function setupLanguageToggle() {
  document.getElementById("lang")?.addEventListener("click", () => {
    lang = lang === "es" ? "en" : "es";
    try { localStorage.setItem("r2eo-lang", lang); } catch { /* private mode: not kept */ }
    applyLanguage();
  });
  applyLanguage();
}
