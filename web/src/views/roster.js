// Today's roster coverage. `rostered` in /api/posts is null until the roster (SPEC §9)
// lands; the shape it will take is read leniently (a count, a list of slots, or an
// object with expected/present counts) so the page shows it as soon as it is there.
import { append, clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { empty, postLink, stateBadge } from "./common.js";

function present(slot) {
  return !!(slot && (slot.present || slot.checked_in || slot.on_duty || slot.status === "hadir" || slot.status === "terlambat"));
}

export function rosterOf(post) {
  const given = post.rostered;
  if (given == null) return null;
  if (typeof given === "number") return { expected: given, present: null, slots: [] };
  if (Array.isArray(given)) return { expected: given.length, present: given.filter(present).length, slots: given };
  if (typeof given === "object") {
    const slots = Array.isArray(given.slots) ? given.slots : [];
    return {
      expected: given.expected ?? given.count ?? given.total ?? given.rostered ?? (slots.length || null),
      present: given.present ?? given.checked_in ?? given.on_duty ?? (slots.length ? slots.filter(present).length : null),
      slots,
    };
  }
  return null;
}

export function renderRoster(container, store, ctx) {
  const posts = store.orderedPosts();
  const rows = [];
  let expected = 0;
  let covered = 0;
  for (const post of posts) {
    const roster = rosterOf(post);
    if (!roster) continue;
    const here = roster.present ?? post.on_duty;
    const need = roster.expected ?? 0;
    expected += need;
    covered += Math.min(here, need);
    rows.push(h("tr", { class: here < need ? "short" : "ok", dataset: { post: post.code } },
      h("td", {}, postLink(post.code, ctx)),
      h("td", { text: post.name }),
      h("td", { class: "num", text: String(here) }),
      h("td", { class: "num", text: String(need) }),
      h("td", {}, stateBadge(post.state))));
  }
  if (!rows.length) {
    clear(container, h("h2", { text: t("roster.title") }), empty(t("roster.empty")));
    return;
  }
  const share = expected ? covered / expected : 1;
  clear(container, 
    h("h2", { text: t("roster.title") }),
    h("p", { class: "lead", text: t("roster.summary", { covered, expected, share: Math.round(share * 100) }) }),
    h("table", { class: "table roster" },
      h("thead", {}, h("tr", {}, [t("roster.post"), t("roster.name"), t("roster.present"), t("roster.expected"), t("roster.state")].map((name) => h("th", { text: name })))),
      h("tbody", {}, rows)),
  );
}
