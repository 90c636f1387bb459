// offpath dev's dashboard: keep the server-rendered parts fresh, run the actions.
//
// The server renders every part (escaping every value); this script only fetches
// the same page as JSON ({"parts": {name: html}}) every couple of seconds and swaps
// each changed part in. Action buttons carry their URL, body and confirmation text
// (data-post, data-body, data-confirm): nothing here knows an action by name.
"use strict";

(() => {
  const refreshMs = Number(document.body.dataset.refreshMs) || 2000;
  const live = document.getElementById("live");
  const flash = document.getElementById("flash");
  const rendered = new Map();
  let timer = 0;
  let running = null;
  let again = false;

  function setLive(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }

  function show(message, failed) {
    flash.textContent = message;
    flash.dataset.kind = failed ? "error" : "ok";
    flash.hidden = false;
  }

  function apply(parts) {
    for (const [name, html] of Object.entries(parts)) {
      const target = document.querySelector(`[data-part="${CSS.escape(name)}"]`);
      // Never swap the part the user is using (an open <select>, a focused button).
      if (!target || rendered.get(name) === html || target.contains(document.activeElement)) {
        continue;
      }
      target.innerHTML = html; // rendered and escaped by the server
      rendered.set(name, html);
    }
  }

  async function load() {
    const response = await fetch(location.pathname + location.search, {
      headers: { accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      throw new Error(answer.error || `HTTP ${response.status}`);
    }
    const answer = await response.json();
    apply(answer.parts);
    setLive("live", `live · ${answer.updated}`);
  }

  // One refresh at a time: asked for during one, another runs right after it.
  function refresh() {
    window.clearTimeout(timer);
    if (running) {
      again = true;
      return running;
    }
    running = load()
      .catch((error) => setLive("offline", `offline (${error.message}): retrying`))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          refresh();
        } else {
          timer = window.setTimeout(refresh, refreshMs);
        }
      });
    return running;
  }

  async function act(button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      return;
    }
    button.disabled = true;
    try {
      // The page's pool (?pool=NAME) goes with every action; the server's default otherwise.
      const body = JSON.parse(button.dataset.body || "{}");
      const pool = new URLSearchParams(location.search).get("pool");
      if (pool && body.pool === undefined) {
        body.pool = pool;
      }
      const response = await fetch(button.dataset.post, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      show(response.ok ? answer.message : answer.error, !response.ok);
    } catch (error) {
      show(`The action failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
      button.blur();
      refresh();
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-post]");
    if (button) {
      event.preventDefault();
      act(button);
    }
  });

  const filters = document.querySelector("form[data-filters]");
  if (filters) {
    filters.addEventListener("change", () => {
      const query = new URLSearchParams();
      const pool = new URLSearchParams(location.search).get("pool");
      if (pool) {
        query.set("pool", pool); // the filters keep the page's pool
      }
      for (const [key, value] of new FormData(filters)) {
        if (value) {
          query.set(key, value);
        }
      }
      const search = query.toString();
      history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}#jobs`);
      document.activeElement.blur();
      refresh();
    });
  }

  refresh();
})();
