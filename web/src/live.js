// Changes within 2 s without a reload: /api/events names what changed (ids, codes,
// states), the page refetches what it draws. `reload` (missed too much, or the server
// restarted) refetches everything. Events arriving together are fetched together.
const GATHER_MS = 120;
const MANY_POSTS = 25;
const RECAP_EVERY_MS = 5000; // the recap is a day's figures: a busy evening need not refetch it on every event

export class Live {
  constructor(store, { onStatus, onError }) {
    this.store = store;
    this.onStatus = onStatus;
    this.onError = onError;
    this.pending = { all: false, posts: new Set(), alerts: false, issues: false, recap: false, circulars: false };
    this.timer = null;
    this.source = null;
    this.recapAt = 0;
  }

  start() {
    const source = new EventSource("/api/events");
    this.source = source;
    source.addEventListener("open", () => this.onStatus(true));
    source.addEventListener("error", () => this.onStatus(false));
    const on = (topic, take) =>
      source.addEventListener(topic, (event) => {
        let data = {};
        try {
          data = JSON.parse(event.data || "{}");
        } catch (_) {
          data = {};
        }
        take(data);
        this.soon();
      });
    on("reload", () => {
      this.pending.all = true;
    });
    on("post", (data) => {
      if (data.post) this.pending.posts.add(data.post);
      this.pending.recap = true;
    });
    on("alert", (data) => {
      if (data.post) this.pending.posts.add(data.post);
      this.pending.alerts = true;
      this.pending.recap = true;
    });
    on("issue", (data) => {
      this.pending.issues = true;
      this.pending.recap = true;
      const post = typeof data.ref === "string" ? data.ref.split("/")[0] : null;
      if (post && this.store.posts.has(post)) this.pending.posts.add(post);
    });
    on("forward", () => {
      this.pending.issues = true;
    });
    on("circular", () => {
      this.pending.circulars = true;
    });
  }

  stop() {
    if (this.source) this.source.close();
  }

  soon() {
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), GATHER_MS);
  }

  async flush() {
    this.timer = null;
    const due = this.pending;
    this.pending = { all: false, posts: new Set(), alerts: false, issues: false, recap: false, circulars: false };
    const store = this.store;
    const work = [];
    if (due.all) {
      work.push(store.loadAll());
    } else {
      if (due.posts.size > MANY_POSTS) work.push(store.loadPosts());
      else for (const code of due.posts) work.push(store.loadPost(code));
      if (due.alerts) work.push(store.loadAlerts());
      if (due.issues) work.push(store.loadIssues());
      if (due.recap) {
        const wait = this.recapAt + RECAP_EVERY_MS - Date.now();
        if (wait <= 0) {
          this.recapAt = Date.now();
          work.push(store.loadRecap());
        } else {
          this.pending.recap = true;
          if (this.timer === null) this.timer = setTimeout(() => this.flush(), wait);
        }
      }
      if (due.circulars) work.push(store.loadCirculars());
    }
    try {
      await Promise.all(work);
    } catch (error) {
      this.onError(error);
    }
  }
}
