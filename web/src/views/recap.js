// Today's recap as /rekap: staffed share, alerts, reaction times, reports, the posts
// most often in trouble, partner agencies — with charts.
import { append, clear, h } from "../dom.js";
import { label, minutes, percent, t, tn, wib } from "../i18n.js";
import { bars, ring } from "./charts.js";
import { empty, section } from "./common.js";

export function renderRecap(container, store, ctx) {
  // A wall screen must fit without scrolling: the worst three posts, no agency table.
  const wall = !!(ctx && ctx.readOnly);
  const recap = store.recap;
  if (!recap) {
    clear(container, h("h2", { text: t("recap.title") }), empty(t("common.loading")));
    return;
  }
  // Both by category ({category: n}); the heading gives the sums.
  const categories = Object.entries(recap.reports_opened || {});
  const resolvedBy = recap.reports_resolved || {};
  const opened = categories.reduce((all, [, n]) => all + n, 0);
  const resolved = Object.values(resolvedBy).reduce((all, n) => all + n, 0);
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
    section(t("recap.reports", { opened, resolved }),
      categories.length
        ? bars(categories.sort((a, b) => b[1] - a[1]).map(([category, n]) => ({
            label: label("category", category),
            value: n,
            cls: "report",
            text: t("recap.category_value", { opened: n, resolved: resolvedBy[category] || 0 }),
          })))
        : empty(t("recap.no_reports"))),
    recap.worst && recap.worst.length
      ? section(t("recap.worst"), bars(recap.worst.slice(0, wall ? 3 : 10).map((stat) => ({
          label: stat.post,
          value: Math.round((stat.staffed_share ?? 0) * 100),
          cls: "group-unstaffed",
          text: percent(stat.staffed_share) + " · " + tn("recap.alert_count", stat.alerts),
        })), { max: 100 }))
      : null,
    !wall && recap.agencies && recap.agencies.length
      ? section(t("recap.agencies"), h("table", { class: "table" },
          h("thead", {}, h("tr", {}, ["agency", "forwarded", "accepted", "done", "returned", "median_accept"].map((key) => h("th", { text: t("recap.agency_" + key) })))),
          h("tbody", {}, recap.agencies.map((row) => h("tr", {},
            h("td", { text: row.agency }),
            ...["forwarded", "accepted", "done", "returned"].map((key) => h("td", { class: "num", text: String(row[key] ?? 0) })),
            h("td", { class: "num", text: minutes(row.median_accept) }))))))
      : null,
  );
}
