// What the page knows, fetched from the API; views read it and re-render on change.
import * as api from "./api.js";
import { isProblem } from "./states.js";

const RANK = { silent: 0, unstaffed: 1, opening: 2 };

export class Store {
  constructor(me) {
    this.me = me;
    this.posts = new Map();
    this.counts = {};
    this.alerts = [];
    this.alertTotal = 0;
    this.issues = { filter: "open", page: 1, list: [], total: 0, pages: 1 };
    this.recap = null;
    this.circulars = [];
    this.boundaries = null;
    this.listeners = new Set();
  }

  on(listener) {
    this.listeners.add(listener);
  }

  emit(what, detail) {
    for (const listener of this.listeners) listener(what, detail);
  }

  /** Posts in the order the API gives: problem posts first, then by code. */
  orderedPosts() {
    return [...this.posts.values()].sort((a, b) => {
      const rank = (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3);
      return rank || a.code.localeCompare(b.code);
    });
  }

  problemPosts() {
    return this.orderedPosts().filter(isProblem);
  }

  recount() {
    const counts = {};
    for (const post of this.posts.values()) counts[post.state] = (counts[post.state] || 0) + 1;
    this.counts = counts;
  }

  async loadPosts() {
    if (!this.me.sees.posts) return;
    const data = await api.get("/api/posts");
    this.posts = new Map(data.posts.map((post) => [post.code, post]));
    this.counts = data.counts || {};
    this.emit("posts");
  }

  async loadPost(code) {
    try {
      const data = await api.get("/api/posts/" + encodeURIComponent(code));
      this.posts.set(code, data.post);
      this.recount();
      this.emit("post", data.post);
    } catch (error) {
      if (error.status === 403 || error.status === 404) {
        this.posts.delete(code);
        this.recount();
        this.emit("post-gone", code);
      } else throw error;
    }
  }

  async loadAlerts() {
    if (!this.me.sees.posts) return;
    const data = await api.get("/api/alerts");
    this.alerts = data.alerts;
    this.alertTotal = data.total;
    this.emit("alerts");
  }

  async loadIssues(filter, page) {
    if (filter !== undefined) this.issues.filter = filter;
    if (page !== undefined) this.issues.page = page;
    const query = new URLSearchParams({
      filter: this.issues.filter,
      page: String(this.issues.page),
      per_page: "50",
    });
    const data = await api.get("/api/issues?" + query);
    Object.assign(this.issues, {
      list: data.issues,
      total: data.total,
      pages: data.pages,
      page: data.page,
    });
    this.emit("issues");
  }

  async loadRecap() {
    if (!this.me.sees.posts) return;
    this.recap = await api.get("/api/recap");
    this.emit("recap");
  }

  async loadCirculars() {
    const data = await api.get("/api/circulars");
    this.circulars = data.circulars;
    this.emit("circulars");
  }

  async loadBoundaries() {
    if (!this.me.sees.posts) return;
    this.boundaries = await api.get("/api/boundaries");
    this.emit("boundaries");
  }

  async loadAll() {
    await Promise.all([
      this.loadPosts(),
      this.loadAlerts(),
      this.loadIssues(),
      this.loadRecap(),
      this.loadCirculars(),
      this.loadBoundaries(),
    ]);
  }
}
