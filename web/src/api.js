// The JSON API (README "Web API"): the session cookie, or a bearer token for a Mini App
// webview that keeps no cookie; every POST echoes the session's CSRF token.
let bearer = null;
let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || "http_" + status);
    this.status = status;
    this.body = body || {};
  }
}

export function useBearer(token) {
  bearer = token;
}

export function useCsrf(token) {
  csrf = token;
}

export function hasBearer() {
  return bearer !== null;
}

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  if (bearer) all.Authorization = "Bearer " + bearer;
  return all;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function get(path) {
  const response = await fetch(path, {
    credentials: "same-origin",
    cache: "no-store",
    headers: headers(),
  });
  return answer(response);
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: headers({ "Content-Type": "application/json", "X-CSRF-Token": csrf || "" }),
    body: JSON.stringify(body || {}),
  });
  return answer(response);
}
