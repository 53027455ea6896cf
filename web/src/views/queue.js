// The report queue with the chat's actions and the same rules (the server decides; a
// refusal is shown as the chat would say it). Notes for resolve / reject / reopen, and
// forwarding to a partner agency, open a small form under the report.
import * as api from "../api.js";
import { append, clear, h } from "../dom.js";
import { label, t, wib } from "../i18n.js";
import { actionButton, empty, errorText, postLink, statusBadge } from "./common.js";

const FILTERS = ["open", "all", "baru", "diterima", "ditangani", "selesai", "ditolak", "darurat", "tinggi", "sedang", "rendah"];
const NEEDS_NOTE = new Set(["resolve", "reject", "reopen"]);
const NOTE_MAX = 500;

function noteForm(issue, action, ctx, agencies) {
  const note = h("textarea", { class: "note", maxlength: String(NOTE_MAX), rows: "2", placeholder: t(action === "forward" ? "queue.note_optional" : "queue.note_placeholder") });
  const picker = action === "forward"
    ? h("select", { class: "agency", "aria-label": t("queue.agency") }, agencies.map((agency) => h("option", { value: agency.code, text: agency.name })))
    : null;
  const message = h("p", { class: "form-error", hidden: true });
  const form = h("form", { class: "note-form", dataset: { action } }, picker, note, message,
    h("div", { class: "form-buttons" },
      h("button", { type: "submit", class: "act primary", text: label("action", action) }),
      h("button", { type: "button", class: "act", text: t("common.cancel"), onclick: () => form.remove() }),
    ));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (NEEDS_NOTE.has(action) && !text) {
      message.textContent = t("error.note_required");
      message.hidden = false;
      return;
    }
    const body = action === "forward" ? { agency: picker.value, ...(text ? { note: text } : {}) } : { note: text };
    const ok = await ctx.act(issue, action, body, message);
    if (ok) form.remove();
  });
  return form;
}

function issueCard(issue, store, ctx) {
  const liaison = Array.isArray(issue.forward_actions);
  const agencies = store.me.agencies || [];
  const tools = h("div", { class: "actions" });
  const card = h("li", { class: "issue severity-" + issue.severity + " status-" + issue.status, dataset: { ref: issue.ref } });
  if (!ctx.readOnly) {
    if (liaison) {
      for (const forward of issue.forwards) {
        for (const step of issue.forward_actions) {
          tools.append(actionButton(label("forward_action", step), () => ctx.forwardStep(forward.id, step), "primary"));
        }
      }
    } else {
      for (const action of issue.actions) {
        if (action === "forward" && !agencies.length) continue;
        if (NEEDS_NOTE.has(action) || action === "forward") {
          tools.append(h("button", { type: "button", class: "act", text: label("action", action), dataset: { action }, onclick: () => {
            const open = card.querySelector("form.note-form");
            if (open) open.remove();
            append(card, noteForm(issue, action, ctx, agencies));
          } }));
        } else {
          tools.append(actionButton(label("action", action), () => ctx.act(issue, action, {}, null), "primary"));
        }
      }
    }
  }
  const forwards = issue.forwards.length
    ? h("ul", { class: "forwards" }, issue.forwards.map((forward) =>
        h("li", { dataset: { agency: forward.agency } },
          "↪ ", h("strong", { text: forward.agency_name }), " · ", label("forward_state", forward.state),
          " · ", wib(forward.forwarded_at),
          forward.accepted_by ? [" · ", t("queue.accepted_by", { name: forward.accepted_by })] : null)))
    : null;
  append(card, 
    h("div", { class: "issue-head" },
      h("span", { class: "code ref", text: issue.ref }), " ",
      statusBadge(issue.status), " ",
      h("span", { class: "badge severity", text: label("severity", issue.severity) }), " ",
      h("span", { class: "category", text: label("category", issue.category) }),
    ),
    h("p", { class: "issue-text", text: issue.text || "" }),
    h("p", { class: "issue-meta" },
      postLink(issue.post, ctx), " ", h("span", { text: issue.post_name }), " · ",
      h("span", { text: t("queue.by", { name: issue.reporter || "—", time: wib(issue.created_at) }) }),
      issue.assignee ? [" · ", h("span", { text: t("queue.assignee", { name: issue.assignee }) })] : null,
      issue.photos ? [" · ", h("span", { text: t("queue.photos", { n: issue.photos }) })] : null,
      issue.has_location ? [" · ", h("span", { text: t("queue.location") })] : null,
    ),
    forwards,
    tools.childElementCount ? tools : null,
  );
  return card;
}

export function renderQueue(container, store, ctx) {
  const state = store.issues;
  const liaison = !!store.me.sees.forwards && !store.me.sees.posts;
  const head = h("div", { class: "queue-head" },
    h("h2", {}, t(liaison ? "queue.title_liaison" : "queue.title"), " ", h("span", { class: "count", text: String(state.total) })),
    ctx.readOnly || liaison ? null : h("select", { class: "filter", "aria-label": t("queue.filter"), onchange: (event) => ctx.filter(event.target.value) },
      FILTERS.map((value) => h("option", { value, selected: value === state.filter ? true : null, text: label("filter", value) }))),
  );
  const pager = state.pages > 1 && !ctx.readOnly
    ? h("div", { class: "pager" },
        h("button", { type: "button", class: "act", text: "‹", disabled: state.page <= 1 ? true : null, onclick: () => ctx.page(state.page - 1) }),
        h("span", { text: t("queue.page", { page: state.page, pages: state.pages }) }),
        h("button", { type: "button", class: "act", text: "›", disabled: state.page >= state.pages ? true : null, onclick: () => ctx.page(state.page + 1) }))
    : null;
  clear(container, 
    head,
    state.list.length ? h("ul", { class: "rows issues" }, state.list.map((issue) => issueCard(issue, store, ctx))) : empty(t(liaison ? "queue.none_liaison" : "queue.none")),
    pager,
  );
}

/** Runs a report action; a refusal (409 moved, 400 note…) is shown next to the report. */
export async function runIssueAction(store, issue, action, body, place, notify) {
  try {
    await api.post("/api/issues/" + issue.ref.split("/").map(encodeURIComponent).join("/") + "/" + action, body);
    await store.loadIssues();
    notify(t("queue.done", { ref: issue.ref, action: label("action", action) }));
    return true;
  } catch (error) {
    const text = errorText(error);
    if (place) {
      place.textContent = text;
      place.hidden = false;
    } else notify(text, true);
    if (error.status === 409) await store.loadIssues();
    return false;
  }
}
