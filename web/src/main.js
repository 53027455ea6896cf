// The command room's page (SPEC §10): the map, a post's panel, open alerts, the report
// queue, today's roster coverage, the recap and circulars, scoped like the member's
// chat view; a wall screen (a /layar session) rotates between the map and the lists.
import "./app.css";
import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { currentLanguage, label, setLanguage, t } from "./i18n.js";
import { Live } from "./live.js";
import { PostMap } from "./map.js";
import { GROUP_ORDER, groupOf } from "./states.js";
import { Store } from "./store.js";
import { renderAlerts } from "./views/alerts.js";
import { renderCirculars } from "./views/circulars.js";
import { empty, errorText, postLink, stateBadge } from "./views/common.js";
import { renderPanel } from "./views/panel.js";
import { renderQueue, runIssueAction } from "./views/queue.js";
import { renderRecap } from "./views/recap.js";
import { renderRoster } from "./views/roster.js";

const WALL_SECONDS = 20;
const PROBLEM_LIST_LIMIT = 200;

/** A Mini App opens the page with Telegram's launch data in the fragment: it is traded
 * for a session (cookie, and a bearer token for a webview that keeps no cookie). */
async function signInFromTelegram() {
  const params = new URLSearchParams(location.hash.slice(1));
  const initData = params.get("tgWebAppData");
  if (!initData) return null;
  history.replaceState(null, "", location.pathname + location.search);
  try {
    const started = await api.post("/api/session", { init_data: initData });
    api.useBearer(started.bearer);
    return null;
  } catch (error) {
    return error;
  }
}

function gate(text) {
  document.body.className = "gate";
  document.body.replaceChildren(
    h("main", { class: "gate-box", role: "alert" },
      h("h1", { text: t("app.title") }),
      h("p", { class: "gate-text", text })),
  );
}

function wallSeconds() {
  const wanted = Number(sessionStorage.getItem("posko.wallSeconds"));
  return wanted > 0 ? wanted : WALL_SECONDS;
}

class Room {
  constructor(me) {
    this.me = me;
    this.wall = !!me.read_only;
    this.store = new Store(me);
    this.selected = null;
    this.tab = me.sees.posts ? "alerts" : "queue";
    this.map = null;
    this.painted = false;
    this.live = new Live(this.store, {
      onStatus: (up) => this.showLive(up),
      onError: (error) => this.fail(error),
    });
    this.store.on((what, detail) => this.changed(what, detail));
    const room = this;
    this.ctx = {
      readOnly: this.wall,
      select: (code) => room.select(code),
      close: () => room.select(null),
      take: (id) => room.take(id),
      act: (issue, action, body, place) => runIssueAction(room.store, issue, action, body, place, (text, bad) => room.notify(text, bad)),
      forwardStep: (id, step) => room.forwardStep(id, step),
      filter: (value) => room.store.loadIssues(value, 1).catch((error) => room.fail(error)),
      page: (page) => room.store.loadIssues(undefined, page).catch((error) => room.fail(error)),
    };
  }

  tabs() {
    if (!this.me.sees.posts) return ["queue", "circulars"];
    return ["posts", "alerts", "queue", "roster", "recap", "circulars"];
  }

  build() {
    const me = this.me;
    document.title = t("app.title");
    document.body.className = ["room", this.wall ? "wall" : "desk", me.sees.posts ? "with-map" : "no-map"].join(" ");
    this.counts = h("ul", { class: "counts", "aria-label": t("counts.label") });
    this.liveMark = h("span", { class: "live", text: t("live.connecting") });
    const header = h("header", { class: "top" },
      h("h1", {}, h("span", { class: "brand", text: "Posko" }), " ", h("span", { text: t("app.subtitle") })),
      this.counts,
      h("div", { class: "who" },
        h("span", { class: "name", text: me.member.name }),
        h("span", { class: "scope", text: me.agency ? me.agency.name : me.scope.all ? t("scope.all") : me.scope.areas.join(", ") }),
        this.liveMark,
        this.wall ? null : h("button", { type: "button", class: "act lang", text: currentLanguage() === "id" ? "EN" : "ID", title: t("lang.switch"), onclick: () => this.switchLanguage() }),
      ));
    this.views = {};
    for (const name of this.tabs()) this.views[name] = h("section", { class: "view view-" + name, dataset: { view: name } });
    this.nav = this.wall ? null : h("nav", { class: "tabs", role: "tablist" }, this.tabs().map((name) =>
      h("button", { type: "button", role: "tab", class: "tab", dataset: { tab: name }, text: t("tab." + name), onclick: () => this.show(name) })));
    this.side = h("aside", { class: "side" }, this.nav, Object.values(this.views));
    this.mapBox = me.sees.posts ? h("div", { id: "map", class: "map", role: "region", "aria-label": t("map.label") }) : null;
    this.toast = h("div", { class: "toast", role: "status", hidden: true });
    document.body.replaceChildren(header, h("main", { class: "room-main" }, this.mapBox ? h("div", { class: "map-area" }, this.mapBox, this.legend()) : null, this.side), this.toast);
    if (this.mapBox) {
      this.map = new PostMap(this.mapBox, me.map, { onSelect: (code) => this.select(code), wall: this.wall });
    }
    if (this.wall) this.startRotation();
    else this.show(this.tab);
  }

  legend() {
    return h("ul", { class: "legend map-legend" }, GROUP_ORDER.map((group) =>
      h("li", {}, h("span", { class: "swatch group-" + group }), label("group", group))));
  }

  show(name) {
    this.tab = name;
    for (const [view, element] of Object.entries(this.views)) element.hidden = view !== name;
    if (this.nav) for (const button of this.nav.children) button.classList.toggle("active", button.dataset.tab === name);
    this.render(name);
  }

  startRotation() {
    // Wall: the map with the open alerts beside it, then the lists (alerts, reports,
    // recap) across the screen; no controls.
    for (const element of Object.values(this.views)) element.hidden = !["alerts", "queue", "recap"].includes(element.dataset.view);
    let screen = this.me.sees.posts ? "map" : "lists";
    const apply = () => {
      document.body.dataset.wallScreen = screen;
      if (this.map) this.map.resize();
    };
    apply();
    setInterval(() => {
      if (this.me.sees.posts) screen = screen === "map" ? "lists" : "map";
      apply();
    }, wallSeconds() * 1000);
  }

  async start() {
    this.build();
    this.live.start();
    try {
      await this.store.loadAll();
    } catch (error) {
      this.fail(error);
    }
  }

  changed(what, detail) {
    switch (what) {
      case "posts":
        if (this.map) this.map.setPosts(this.store.orderedPosts()).then(() => this.markPainted());
        this.renderCounts();
        this.render("posts");
        this.render("roster");
        break;
      case "post":
        if (this.map) this.map.updatePost(detail);
        this.renderCounts();
        if (this.selected === detail.code || !this.selected) this.render("posts");
        this.render("roster");
        break;
      case "post-gone":
        if (this.map) this.map.removePost(detail);
        this.renderCounts();
        this.render("posts");
        break;
      case "alerts":
        this.render("alerts");
        break;
      case "issues":
        this.render("queue");
        break;
      case "recap":
        this.render("recap");
        break;
      case "circulars":
        this.render("circulars");
        break;
      case "boundaries":
        if (this.map) this.map.setBoundaries(this.store.boundaries);
        break;
    }
  }

  markPainted() {
    if (this.painted) return;
    this.painted = true;
    // Two frames after the last pin was placed: the browser has drawn them
    // (bench/dashboard.py reads this as first_paint_ms).
    requestAnimationFrame(() => requestAnimationFrame(() => {
      performance.mark("posko-map-painted");
      document.body.dataset.mapPainted = String(Math.round(performance.now()));
    }));
  }

  render(name) {
    const element = this.views[name];
    if (!element) return;
    if (element.hidden) return; // drawn when its tab is shown
    const store = this.store;
    if (name === "alerts") renderAlerts(element, store, this.ctx);
    else if (name === "queue") renderQueue(element, store, this.ctx);
    else if (name === "recap") renderRecap(element, store);
    else if (name === "circulars") renderCirculars(element, store);
    else if (name === "roster") renderRoster(element, store, this.ctx);
    else if (name === "posts") {
      if (this.selected) renderPanel(element, store, this.selected, this.ctx).catch((error) => this.fail(error));
      else this.renderProblemList(element);
    }
  }

  renderProblemList(element) {
    const problems = this.store.problemPosts();
    const unplaced = this.store.orderedPosts().filter((post) => post.lat == null || post.lon == null);
    const row = (post) => h("li", { class: "post-row group-" + groupOf(post.state), dataset: { post: post.code } },
      postLink(post.code, this.ctx), " ", h("span", { class: "name", text: post.name }), " ", stateBadge(post.state));
    clear(element, 
      h("h2", {}, t("posts.problems"), " ", h("span", { class: "count", text: String(problems.length) })),
      problems.length ? h("ul", { class: "rows" }, problems.slice(0, PROBLEM_LIST_LIMIT).map(row)) : empty(t("posts.no_problems")),
      problems.length > PROBLEM_LIST_LIMIT ? h("p", { class: "muted", text: t("posts.more", { n: problems.length - PROBLEM_LIST_LIMIT }) }) : null,
      unplaced.length ? [h("h3", { text: t("posts.unplaced") }), h("ul", { class: "rows" }, unplaced.map(row))] : null,
      h("p", { class: "muted hint", text: t("posts.hint") }),
    );
  }

  renderCounts() {
    const groups = {};
    for (const [state, n] of Object.entries(this.store.counts)) groups[groupOf(state)] = (groups[groupOf(state)] || 0) + n;
    this.counts.replaceChildren(...GROUP_ORDER.filter((group) => groups[group]).map((group) =>
      h("li", { class: "count-chip group-" + group, dataset: { group } }, h("strong", { text: String(groups[group]) }), " ", label("group", group))));
  }

  select(code) {
    this.selected = code;
    if (this.wall) return;
    this.show("posts");
    if (code && this.map) this.map.focus(code);
  }

  async take(id) {
    try {
      const taken = await api.post("/api/alerts/" + encodeURIComponent(id) + "/take");
      this.notify(t("alerts.taken_done", { post: taken.post }));
    } catch (error) {
      this.notify(errorText(error), true);
    }
    await Promise.all([this.store.loadAlerts(), this.selected ? this.store.loadPost(this.selected) : null]).catch((error) => this.fail(error));
  }

  async forwardStep(id, step) {
    try {
      await api.post("/api/forwards/" + encodeURIComponent(id) + "/" + step);
      this.notify(t("queue.forward_done"));
    } catch (error) {
      this.notify(errorText(error), true);
    }
    await this.store.loadIssues().catch((error) => this.fail(error));
  }

  notify(text, bad) {
    this.toast.textContent = text;
    this.toast.classList.toggle("bad", !!bad);
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      this.toast.hidden = true;
    }, 5000);
  }

  showLive(up) {
    this.liveMark.textContent = up ? t("live.on") : t("live.off");
    this.liveMark.classList.toggle("off", !up);
  }

  fail(error) {
    if (error && error.status === 401) {
      this.live.stop();
      gate(t("gate.ended"));
      return;
    }
    this.notify(errorText(error), true);
  }

  switchLanguage() {
    setLanguage(currentLanguage() === "id" ? "en" : "id");
    localStorage.setItem("posko.language", currentLanguage());
    this.build();
    for (const what of ["posts", "alerts", "issues", "recap", "circulars", "boundaries"]) this.changed(what);
  }
}

async function boot() {
  setLanguage(localStorage.getItem("posko.language") || "id"); // Indonesian first, until /api/me says
  const refused = await signInFromTelegram();
  let me;
  try {
    me = await api.get("/api/me");
  } catch (error) {
    if (refused) {
      const key = "gate.refused_" + (refused.body.error || "other");
      gate(t(key) === key ? t("gate.refused_other") : t(key));
    }
    else gate(error.status === 401 ? t("gate.signin") : errorText(error));
    return;
  }
  api.useCsrf(me.csrf_token);
  setLanguage(localStorage.getItem("posko.language") || me.language);
  const room = new Room(me);
  window.poskoRoom = room; // for a console look; the page never reads it back
  await room.start();
}

boot();
