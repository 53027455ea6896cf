// Circulars and their read receipts (an author's own, all for an admin); a liaison
// sees the ones sent to them and whether they read them.
import { append, clear, h } from "../dom.js";
import { label, t, wib } from "../i18n.js";
import { stacked } from "./charts.js";
import { empty } from "./common.js";

export function renderCirculars(container, store) {
  const items = store.circulars.map((circular) => {
    const receipts = circular.receipts;
    const delivered = receipts ? Math.max(0, receipts.sent - receipts.read) : 0;
    return h("li", { class: "circular", dataset: { circular: String(circular.id) } },
      h("div", { class: "row-meta" },
        h("strong", { text: circular.author || "—" }), " · ", label("circular_scope", circular.scope), " · ", wib(circular.sent_at),
        " · ", label("circular_status", circular.status)),
      h("p", { class: "circular-text", text: circular.text }),
      receipts
        ? stacked([
            { value: receipts.read, cls: "read", label: t("circulars.read") },
            { value: delivered, cls: "sent", label: t("circulars.sent") },
            { value: receipts.pending, cls: "pending", label: t("circulars.pending") },
            { value: receipts.failed, cls: "failed", label: t("circulars.failed") },
            { value: receipts.blocked, cls: "blocked", label: t("circulars.blocked") },
          ], receipts.total)
        : h("p", { class: "muted", text: circular.read ? t("circulars.you_read") : t("circulars.you_unread") }),
    );
  });
  clear(container, 
    h("h2", { text: t("circulars.title") }),
    items.length ? h("ul", { class: "rows circulars" }, items) : empty(t("circulars.none")),
  );
}
