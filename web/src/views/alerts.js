// Open alerts, untaken first, with ✋ take (the chat hears it as from the button).
import { append, clear, h } from "../dom.js";
import { label, t, wib } from "../i18n.js";
import { actionButton, empty, postLink } from "./common.js";

export function renderAlerts(container, store, ctx) {
  const rows = store.alerts.map((alert) =>
    h(
      "li",
      {
        class: "alert-row group-" + (alert.kind === "silent" ? "silent" : "unstaffed") + (alert.taken_by ? " taken" : ""),
        dataset: { alert: String(alert.id), post: alert.post },
      },
      h("div", { class: "row-main" },
        postLink(alert.post, ctx),
        " ",
        h("span", { class: "name", text: alert.post_name }),
      ),
      h("div", { class: "row-meta" },
        h("strong", { class: "kind", text: label("alert", alert.kind) }),
        " · ",
        t("alerts.opened", { time: wib(alert.opened_at) }),
        alert.taken_by ? [" · ", h("span", { class: "taker", text: t("alerts.taken_by", { name: alert.taken_by, time: wib(alert.taken_at) }) })] : null,
      ),
      !alert.taken_by && alert.takeable && !ctx.readOnly
        ? actionButton(t("alerts.take"), () => ctx.take(alert.id), "take")
        : null,
    ),
  );
  clear(container, 
    h("h2", {}, t("alerts.title"), " ", h("span", { class: "count", text: String(store.alertTotal) })),
    rows.length ? h("ul", { class: "rows alerts" }, rows) : empty(t("alerts.none")),
  );
}
