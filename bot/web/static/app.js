// Placeholder page: lists the posts from /api/posts and refreshes them when the event
// stream says something changed. The command room's front end replaces this file.
"use strict";

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new Error(path + " " + response.status);
  return response.json();
}

async function showPosts() {
  const status = document.getElementById("status");
  const list = document.getElementById("posts");
  try {
    const me = await getJson("/api/me");
    document.getElementById("who").textContent = me.member.name;
    if (!me.sees.posts) {
      status.textContent = "Tidak ada posko untuk ditampilkan.";
      return;
    }
    const data = await getJson("/api/posts");
    list.replaceChildren(...data.posts.map((post) => {
      const item = document.createElement("li");
      item.className = "state-" + post.state;
      item.textContent = post.code + " · " + post.name + " · " + post.state +
        " · bertugas " + post.on_duty + "/" + post.min_staff;
      return item;
    }));
    status.textContent = data.posts.length + " posko";
  } catch (error) {
    status.textContent = "Mohon buka tautan dari /dasbor di Telegram.";
  }
}

let pending = null;
function refreshSoon() {
  if (pending === null) pending = setTimeout(() => { pending = null; showPosts(); }, 300);
}

showPosts();
const events = new EventSource("/api/events");
for (const topic of ["post", "alert", "issue", "forward", "reload"]) {
  events.addEventListener(topic, refreshSoon);
}
