// Today's recap as /rekap: staffed share, alerts, reaction times, reports, the posts
// most often in trouble, partner agencies — with charts.
import { append, clear, h } from "../dom.js";
import { label, minutes, percent, t, wib } from "../i18n.js";
import { bars, ring } from "./charts.js";
import { empty, section } from "./common.js";

export function renderRecap(container, store) {
  const recap = store.recap;
  if (!recap) {
    clear(container, h("h2", { text: t("recap.title") }), empty(t("common.loading")));
    return;
  }
  const categories = Object.entries(recap.reports_opened || {});
  const opened = categories.reduce((all, [, n]) => all + n, 0);
  clear(container, 
    h("h2", { text: t("recap.title_day", { day: recap.day }) }),
    h("p", { class: "muted", text: t("recap.until", { time: wib(recap.until) }) }),
    h("div", { class: "recap-top" },
      h("figure", { class: "figure-ring" }, ring(recap.staffed_share, "group-ok"), h("figcaption", { text: t("recap.staffed_share") })),
      h("dl", { class: "facts big" },
        h("dt", { text: t("recap.posts") }), h("dd", { text: t("recap.posts_value", { open: recap.open_posts, all: recap.posts }) }),
        h("dt", { text: t("recap.median_take") }), h("dd", { text: minutes(recap.median_take_s) }),
        h("dt", { text: t("recap.median_recover") }), h("dd", { text: minutes(recap.median_recover_s) }),
      )),
    section(t("recap.alerts"), bars([
      { label: label("alert", "silent"), value: recap.alerts.silent, cls: "group-silent" },
      { label: label("alert", "unstaffed"), value: recap.alerts.unstaffed, cls: "group-unstaffed" },
    ])),
    section(t("recap.reports", { opened, resolved: recap.reports_resolved }),
      categories.length
        ? bars(categories.sort((a, b) => b[1] - a[1]).map(([category, n]) => ({ label: label("category", category), value: n, cls: "report" })))
        : empty(t("recap.no_reports"))),
    recap.worst && recap.worst.length
      ? section(t("recap.worst"), bars(recap.worst.map((stat) => ({
          label: stat.post,
          value: Math.round((stat.staffed_share ?? 0) * 100),
          cls: "group-unstaffed",
          text: percent(stat.staffed_share) + " · " + t("recap.alert_count", { n: stat.alerts }),
        })), { max: 100 }))
      : null,
    recap.agencies && recap.agencies.length
      ? section(t("recap.agencies"), h("table", { class: "table" },
          h("thead", {}, h("tr", {}, ["agency", "forwarded", "accepted", "done", "returned", "median_accept"].map((key) => h("th", { text: t("recap.agency_" + key) })))),
          h("tbody", {}, recap.agencies.map((row) => h("tr", {},
            h("td", { text: row.agency }),
            ...["forwarded", "accepted", "done", "returned"].map((key) => h("td", { class: "num", text: String(row[key] ?? 0) })),
            h("td", { class: "num", text: minutes(row.median_accept) }))))))
      : null,
  );
}
