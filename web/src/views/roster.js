// The piket running now (SPEC §9) from /api/roster: each post with a slot running,
// "hadir M dari N", and who is not in yet with the mark /pantau KODE gives them (who is
// late for piket, answerable from the wall). Posts short of their piket come first.
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { empty, postLink, stateBadge } from "./common.js";

const ROWS = 200;

/** A post's piket now from /api/posts: `rostered` is {now, present} or null. */
export function rosterOf(post) {
  const given = post && post.rostered;
  if (!given || typeof given.now !== "number") return null;
  return { now: given.now, present: given.present ?? 0 };
}

export function slotLine(slot) {
  return t("roster.slot", { hours: slot.hours, name: slot.name, mark: slot.mark });
}

export function renderRoster(container, store, ctx) {
  const roster = store.roster;
  if (!roster) {
    clear(container, h("h2", { text: t("roster.title") }), empty(t("common.loading")));
    return;
  }
  if (!roster.posts.length) {
    clear(container, h("h2", { text: t("roster.title") }), empty(t("roster.empty")));
    return;
  }
  let now = 0;
  let present = 0;
  for (const post of roster.posts) {
    now += post.now;
    present += post.present;
  }
  const limit = ctx.readOnly ? 6 : ROWS;
  const rows = roster.posts.slice(0, limit).map((post) => {
    const absent = post.slots.filter((slot) => !slot.present);
    return h("li", { class: "piket-row " + (post.present < post.now ? "short group-unstaffed" : "ok group-ok"), dataset: { post: post.code } },
      h("div", { class: "row-main" },
        postLink(post.code, ctx), " ", h("span", { class: "name", text: post.name }), " ", stateBadge(post.state)),
      h("div", { class: "row-meta" },
        h("strong", { class: "piket-count", text: t("roster.value", { present: post.present, now: post.now }) })),
      absent.length
        ? h("div", { class: "absent", text: t("roster.absent", { people: absent.map((slot) => slot.name + " (" + slot.mark + ")").join("; ") }) })
        : h("div", { class: "muted", text: t("roster.all_in") }));
  });
  const hidden = roster.posts.length - rows.length;
  clear(container,
    h("h2", {}, t("roster.title"), " ", h("span", { class: "count", text: String(roster.total) })),
    h("p", { class: "lead", text: t("roster.summary", { present, now, posts: roster.total }) }),
    h("ul", { class: "rows piket" }, rows),
    hidden > 0 ? h("p", { class: "more", text: t("roster.more_posts", { n: hidden }) }) : null,
  );
}
