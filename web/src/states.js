// Post states as the chat's /peta groups them (bot/insight/map_style.py): the same
// colours on the web map, and the same "problem" states drawn on top and labelled.
export const STATE_GROUP = {
  staffed: "ok",
  reminded: "ok",
  silent: "silent",
  unstaffed: "unstaffed",
  opening: "unstaffed",
  closed: "closed",
  paused: "paused",
};
export const PROBLEM_STATES = new Set(["silent", "unstaffed"]);
export const GROUP_ORDER = ["silent", "unstaffed", "ok", "paused", "closed"];

export function groupOf(state) {
  return STATE_GROUP[state] || "closed";
}

export function isProblem(post) {
  return PROBLEM_STATES.has(post.state);
}
