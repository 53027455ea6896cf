// A post's panel: on duty, rostered, last signal, open alert (with take), its reports.
import * as api from "../api.js";
import { append, clear, h } from "../dom.js";
import { label, t, wib } from "../i18n.js";
import { rosterOf } from "./roster.js";
import { actionButton, empty, errorText, facts, section, stateBadge, statusBadge } from "./common.js";

export async function renderPanel(container, store, code, ctx) {
  const post = store.posts.get(code);
  if (!post) {
    clear(container, empty(t("panel.gone")));
    return;
  }
  const roster = rosterOf(post);
  const path = (post.path || []).map((step) => step.name).join(" › ");
  const alert = post.alert;
  const alertPart = alert
    ? h(
        "div",
        { class: "panel-alert group-" + (alert.kind === "silent" ? "silent" : "unstaffed") },
        h("strong", { text: label("alert", alert.kind) }),
        " · ",
        t("panel.alert_since", { time: wib(alert.opened_at) }),
        alert.taken_by
          ? h("p", { text: t("alerts.taken_by", { name: alert.taken_by, time: wib(alert.taken_at) }) })
          : null,
        !alert.taken_by && alert.takeable && !ctx.readOnly
          ? actionButton(t("alerts.take"), () => ctx.take(alert.id), "take")
          : null,
      )
    : h("p", { class: "muted", text: t("panel.no_alert") });
  const reports = h("div", { class: "panel-reports" }, h("p", { class: "muted", text: t("common.loading") }));
  clear(container, 
    h(
      "article",
      { class: "panel", dataset: { post: post.code } },
      h("header", { class: "panel-head" },
        h("h2", {}, h("span", { class: "code", text: post.code }), " ", post.name),
        ctx.readOnly ? null : h("button", { type: "button", class: "link close", text: "×", title: t("common.close"), onclick: () => ctx.close() }),
      ),
      h("p", { class: "path", text: path }),
      h("p", {}, stateBadge(post.state), " ", t("panel.since", { time: wib(post.state_since) })),
      facts([
        [t("panel.on_duty"), t("panel.on_duty_value", { n: post.on_duty, min: post.min_staff })],
        [t("panel.rostered"), roster ? t("roster.value", { present: roster.present ?? post.on_duty, expected: roster.expected ?? "—" }) : t("roster.none")],
        [t("panel.last_signal"), wib(post.last_signal_at)],
        post.paused_until ? [t("panel.paused_until"), wib(post.paused_until)] : null,
        [t("panel.open_reports"), String(post.open_reports)],
      ]),
      section(t("panel.alert"), alertPart),
      section(t("panel.reports"), reports),
    ),
  );
  try {
    const data = await api.get("/api/issues?" + new URLSearchParams({ filter: post.code, per_page: "20" }));
    clear(reports, 
      data.issues.length
        ? h("ul", { class: "mini-list" }, data.issues.map((issue) =>
            h("li", {}, h("span", { class: "code", text: issue.ref }), " ", statusBadge(issue.status), " ", h("span", { class: "text", text: issue.text }))))
        : empty(t("panel.no_reports")),
    );
  } catch (error) {
    clear(reports, empty(errorText(error)));
  }
}
