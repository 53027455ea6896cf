// Open alerts, untaken first, with ✋ take (the chat hears it as from the button): which
// level has each one, how long ago it opened, and who is on duty at the post.
import { clear, h } from "../dom.js";
import { ago, label, t } from "../i18n.js";
import { actionButton, empty, peopleLine, postLink, stepText } from "./common.js";

/** A wall screen shows this many rows and "+N lagi": it never scrolls. */
export const WALL_ROWS = 5;

export function renderAlerts(container, store, ctx) {
  const shown = ctx.readOnly ? store.alerts.slice(0, WALL_ROWS) : store.alerts;
  const rows = shown.map((alert) =>
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
        h("span", { class: "age", text: t("alerts.opened", { time: ago(alert.opened_at) }) }),
        stepText(alert) ? [" · ", h("span", { class: "step", text: stepText(alert) })] : null,
        alert.taken_by ? [" · ", h("span", { class: "taker", text: t("alerts.taken_by", { name: alert.taken_by, time: ago(alert.taken_at) }) })] : null,
      ),
      ctx.readOnly ? null : h("div", { class: "row-people muted", text: peopleLine(alert.people) }),
      !alert.taken_by && alert.takeable && !ctx.readOnly
        ? actionButton(t("alerts.take"), () => ctx.take(alert.id), "take")
        : null,
    ),
  );
  const hidden = store.alertTotal - rows.length;
  clear(container,
    h("h2", {}, t("alerts.title"), " ", h("span", { class: "count", text: String(store.alertTotal) })),
    rows.length ? h("ul", { class: "rows alerts" }, rows) : empty(t("alerts.none")),
    hidden > 0 && ctx.readOnly ? h("p", { class: "more", text: t("alerts.more", { n: hidden }) }) : null,
  );
}
