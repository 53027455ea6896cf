// The page's texts: Indonesian first, English available (the member's language from
// /api/me, or the header's switch). Both catalogs have the same keys (tests check).
import id from "./texts/id.json";
import en from "./texts/en.json";

const CATALOGS = { id, en };
let language = "id";

export function setLanguage(code) {
  language = CATALOGS[code] ? code : "id";
  document.documentElement.lang = language;
}

export function currentLanguage() {
  return language;
}

export function t(key, vars) {
  const text = CATALOGS[language][key] ?? id[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** A label from a group in the catalog ("state.silent"), or the raw value if unknown. */
export function label(group, value) {
  const key = group + "." + value;
  return key in CATALOGS[language] ? CATALOGS[language][key] : String(value ?? "");
}

const CLOCK = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Asia/Jakarta",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});
const DAY = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Asia/Jakarta",
  day: "2-digit",
  month: "2-digit",
});

/** An API time (ISO UTC) as WIB: "19:05" today, "24/11 19:05" on another day. */
export function wib(iso, today) {
  if (!iso) return "—";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return "—";
  const clock = CLOCK.format(moment);
  const day = DAY.format(moment);
  return (today && day === DAY.format(new Date(today)) ? clock : day + " " + clock) + " WIB";
}

export function minutes(seconds) {
  if (seconds == null) return "—";
  if (seconds < 90) return t("unit.seconds", { n: Math.round(seconds) });
  return t("unit.minutes", { n: Math.round(seconds / 60) });
}

export function percent(share) {
  if (share == null) return "—";
  return Math.round(share * 100) + "%";
}
