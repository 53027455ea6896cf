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

/** A text with a count: the "_one" form for 1 when the language has one ("1 alert"). */
export function tn(key, n, vars) {
  const one = key + "_one";
  return t(n === 1 && one in CATALOGS[language] ? one : key, { n, ...vars });
}

/** How long ago an API time was: "12 menit lalu", "2 jam 5 menit lalu" (a wall read
 * from across the room, and a panel, need the age, not a date). */
let clockOffset = 0;

/** The server's time (from /api/me) less this device's: ages count from the server. */
export function setServerNow(iso) {
  const server = iso ? new Date(iso).getTime() : NaN;
  clockOffset = Number.isNaN(server) ? 0 : server - Date.now();
}

export function ago(iso, now = Date.now() + clockOffset) {
  if (!iso) return "—";
  const moment = new Date(iso).getTime();
  if (Number.isNaN(moment)) return "—";
  const minutesAgo = Math.max(0, Math.floor((now - moment) / 60000));
  if (minutesAgo < 1) return t("time.just_now");
  if (minutesAgo < 60) return tn("time.minutes_ago", minutesAgo);
  if (minutesAgo < 24 * 60) return t("time.hours_ago", { h: Math.floor(minutesAgo / 60), m: minutesAgo % 60 });
  return tn("time.days_ago", Math.floor(minutesAgo / (24 * 60)));
}
