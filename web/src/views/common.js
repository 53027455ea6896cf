import { append, clear, h } from "../dom.js";
import { label, t } from "../i18n.js";
import { groupOf } from "../states.js";

export function stateBadge(state) {
  return h("span", { class: "badge state-" + state + " group-" + groupOf(state), text: label("state", state) });
}

export function statusBadge(status) {
  return h("span", { class: "badge status-" + status, text: label("status", status) });
}

export function empty(text) {
  return h("p", { class: "empty", text });
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", { text: title }), ...children);
}

export function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(Boolean).map(([name, value]) => [h("dt", { text: name }), h("dd", {}, value)]),
  );
}

/** A button that runs an action once (disabled while it runs). */
export function actionButton(text, run, extraClass) {
  const button = h("button", { type: "button", class: "act " + (extraClass || ""), text });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await run();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function errorText(error) {
  const code = error && error.body && error.body.error;
  if (code && t("error." + code) !== "error." + code) return t("error." + code, error.body);
  return t("error.generic");
}

/** A post code that opens the post's panel (plain text on a wall screen). */
export function postLink(code, ctx) {
  if (ctx.readOnly) return h("span", { class: "code", text: code });
  return h("button", { type: "button", class: "link code", text: code, onclick: () => ctx.select(code) });
}
