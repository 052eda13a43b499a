/* KNT staff console: what every page shares (loaded first, `defer`, then the page's script).
 * - Staff.h(): DOM building. Text only ever goes in as text nodes / textContent: the
 *   shopper, the bot and the FAQ are untrusted text, never markup.
 * - Staff.api(): fetch with the CSRF header, JSON errors, 401 -> the login page.
 * - the header (agent, agents online, log out), the live socket, the hand-off queue store
 *   (the nav badge and the tab title count waiting shoppers on every page), formatting,
 *   and the suggestion / order cards the console and the e-mail page both show.
 * Contract: docs/staff-api.md. */
(() => {
  "use strict";
  const S = (window.Staff = {});

  // ---- DOM helpers (strings in `kids` become text nodes)
  const h = (S.h = (tag, cls, attrs, kids) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const k in attrs || {}) if (attrs[k] != null && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    if (kids) e.append(...kids.filter((k) => k != null && k !== false));
    return e;
  });
  S.$ = (sel, root) => (root || document).querySelector(sel);
  S.button = (cls, text, attrs) => h("button", cls, Object.assign({ type: "button" }, attrs), [text]);
  // A mailto link for an address the server validated; anything odd stays plain text.
  S.mailLink = (email) => {
    if (!/^[^\s@<>"'`]+@[^\s@<>"'`]+\.[A-Za-z]{2,}$/.test(email || "")) return document.createTextNode(email || "");
    const a = h("a", "mail", null, [email]);
    a.href = "mailto:" + email;
    return a;
  };

  // ---- storage that never throws (private modes, blocked storage)
  S.load = (key) => {
    try {
      return JSON.parse(sessionStorage.getItem("knt-staff:" + key));
    } catch (e) {
      return null;
    }
  };
  S.save = (key, value) => {
    try {
      if (value == null) sessionStorage.removeItem("knt-staff:" + key);
      else sessionStorage.setItem("knt-staff:" + key, JSON.stringify(value));
    } catch (e) {
      /* full or blocked: the draft just won't survive a reload */
    }
  };

  // ---- formatting (en-GB everywhere: "21 Dec", "14:03")
  const LOCALE = "en-GB";
  const sameDay = (a, b) => a.toDateString() === b.toDateString();
  S.fmtTime = (ts) => {
    const d = new Date(ts);
    if (!ts || isNaN(d)) return "";
    const time = d.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
    return sameDay(d, new Date()) ? time : d.toLocaleDateString(LOCALE, { day: "numeric", month: "short" }) + " " + time;
  };
  // "2026-12-21" is a calendar date: parse it as local, not as UTC midnight.
  const toDate = (v) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v || "");
    return m ? new Date(+m[1], m[2] - 1, +m[3]) : new Date(v);
  };
  S.fmtDate = (v) => {
    const d = toDate(v);
    if (!v || isNaN(d)) return "";
    const far = Math.abs(d - Date.now()) > 180 * 864e5; // the year only when it isn't obvious
    return d.toLocaleDateString(LOCALE, far ? { day: "numeric", month: "short", year: "numeric" } : { day: "numeric", month: "short" });
  };
  S.fmtDuration = (sec) => {
    if (sec == null || !isFinite(sec)) return "—";
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return sec + " s";
    const m = Math.floor(sec / 60);
    if (m < 60) return m + " min" + (sec % 60 ? " " + (sec % 60) + " s" : "");
    const hr = Math.floor(m / 60);
    if (hr < 24) return hr + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
    return Math.floor(hr / 24) + " d" + (hr % 24 ? " " + (hr % 24) + " h" : "");
  };
  S.pct = (x) => (x == null || !isFinite(x) ? "—" : Math.round(x * 100) + "%");
  S.plural = (n, one, many) => n + " " + (n === 1 ? one : many || one + "s");

  // Hand-off reasons in the agent's words; unknown codes are shown as they are.
  const REASONS = {
    shopper_asked: "Asked for a person",
    faq_unanswered: "Bot couldn't answer",
    verification_failed: "Couldn't verify order",
    order_system_down: "Order system down",
    order_not_found: "Order not found",
    faq_error: "FAQ lookup failed",
    agent_took_over: "Taken over",
    bot_decided: "Bot handed off",
    verification_locked: "Order checks locked (too many tries)",
    write_unconfirmed: "Request not confirmed: check it",
    assistant_error: "Assistant failed to answer",
  };
  S.reason = (code) => (code ? REASONS[code] || String(code) : "");

  // ---- the API
  let csrf = "";
  S.agent = null;
  class ApiError extends Error {
    constructor(status, code, message, detail) {
      super(message);
      this.status = status;
      this.code = code;
      this.detail = detail;
    }
  }
  S.ApiError = ApiError;
  S.toLogin = () => {
    const here = location.pathname + location.search + location.hash;
    location.replace("/staff/login" + (here.startsWith("/staff") ? "?next=" + encodeURIComponent(here) : ""));
  };
  const errorMessage = (status, d) => {
    if (d && typeof d === "object" && !Array.isArray(d) && d.message) return String(d.message);
    if (Array.isArray(d)) return "The server refused this request (" + d.map((x) => x && x.msg).join("; ") + ").";
    if (status >= 500) return "The server had a problem (" + status + "). Try again in a moment.";
    return "The request failed (" + status + ").";
  };
  // opts.login: false = a 401 is an answer (the login page), not "go log in".
  S.api = async (method, path, body, opts = {}) => {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", "Can't reach the server. Check your connection and try again.");
    }
    let data = null;
    if (res.status !== 204) {
      try {
        data = await res.json();
      } catch (e) {
        /* not JSON (a proxy's error page): the status says enough */
      }
    }
    if (res.ok) return data;
    const d = data && data.detail;
    const code = d && typeof d === "object" && !Array.isArray(d) ? d.code : null;
    if (res.status === 401 && opts.login !== false) S.toLogin();
    // Logged in again in another tab: a new session has a new token. Fetch it, retry once.
    if (res.status === 403 && code === "bad_csrf" && !opts.retried) {
      await S.me();
      return S.api(method, path, body, Object.assign({}, opts, { retried: true }));
    }
    throw new ApiError(res.status, code || "http_" + res.status, errorMessage(res.status, d), d);
  };
  S.me = async () => {
    const me = await S.api("GET", "/api/staff/me");
    csrf = me.csrf_token;
    S.agent = me.agent;
    S.setOnline(me.agents_online);
    const name = S.$(".agent-name");
    if (name) name.textContent = me.agent.name;
    return me;
  };

  // ---- header
  S.setOnline = (n) => {
    const el = S.$(".agents-online");
    if (el && typeof n === "number") el.textContent = S.plural(n, "agent") + " online";
  };
  const setLive = (state, text) => {
    const el = S.$(".live-status");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  };
  const initHeader = () => {
    const out = S.$("#logout");
    if (!out) return;
    out.addEventListener("click", async () => {
      out.disabled = true;
      try {
        await S.api("POST", "/api/staff/logout");
      } catch (e) {
        if (e.status !== 401) {
          out.disabled = false;
          setLive("error", "Couldn't log out: " + e.message);
          return;
        }
      }
      // Drafts and pasted e-mails stay with the agent who wrote them, not with the tab.
      for (const key of Object.keys(sessionStorage)) {
        if (key.startsWith("knt-staff:")) sessionStorage.removeItem(key);
      }
      location.replace("/staff/login");
    });
  };

  // ---- the hand-off queue, shared by every page (the console draws it; the others count it)
  const queue = (S.queue = { items: new Map(), timeout: 120, listeners: new Set() });
  // Waits tick from the server's own `waited_seconds`, not from `since` read against this
  // machine's clock: an agent's laptop a minute off must not show wrong waits.
  const stamp = (c) => {
    c._since = c.waited_seconds != null ? Date.now() - c.waited_seconds * 1000 : Date.parse(c.since) || Date.now();
    return c;
  };
  S.stamp = stamp;
  const queueChanged = (id) => {
    let waiting = 0;
    for (const c of queue.items.values()) if (c.state === "waiting") waiting++;
    queue.waiting = waiting;
    const badge = S.$(".nav-count");
    if (badge) {
      badge.textContent = waiting ? String(waiting) : "";
      badge.hidden = !waiting;
    }
    const base = document.body.dataset.title || "KNT console";
    document.title = (waiting ? "(" + waiting + ") " : "") + base;
    queue.listeners.forEach((fn) => fn(id));
  };
  queue.apply = (c) => {
    if (!c || !c.conversation_id) return;
    if (c.state === "waiting" || c.state === "claimed") queue.items.set(c.conversation_id, stamp(c));
    else queue.items.delete(c.conversation_id);
    queueChanged(c.conversation_id);
  };
  queue.load = async () => {
    const r = await S.api("GET", "/api/staff/queue");
    queue.items = new Map(r.conversations.map((c) => [c.conversation_id, stamp(c)]));
    if (typeof r.claim_timeout_seconds === "number") queue.timeout = r.claim_timeout_seconds;
    S.setOnline(r.agents_online);
    queueChanged(null);
  };

  // One clock for every ticking wait on the page.
  const tickers = new Set();
  S.onTick = (fn) => tickers.add(fn);
  setInterval(() => tickers.forEach((fn) => fn()), 1000);

  // ---- the live socket: reconnects with backoff, pings so the server keeps it
  const live = { ws: null, attempt: 0, timer: 0, ping: 0, handlers: [], connected: false, everReady: false };
  S.onFrame = (fn) => live.handlers.push(fn);
  S.send = (frame) => {
    if (!live.ws || !live.connected || live.ws.readyState !== 1) return false;
    live.ws.send(JSON.stringify(frame));
    return true;
  };
  const connect = () => {
    clearTimeout(live.timer);
    live.timer = 0;
    if (live.ws) return;
    let ws;
    try {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/staff/ws");
    } catch (e) {
      return retry();
    }
    live.ws = ws;
    setLive("connecting", live.everReady ? "Reconnecting…" : "Connecting…");
    ws.onmessage = (ev) => {
      if (live.ws !== ws) return;
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (!f || typeof f.type !== "string") return;
      if (f.type === "ready") {
        const again = live.everReady;
        live.connected = live.everReady = true;
        live.attempt = 0;
        setLive("live", "Live");
        S.setOnline(f.agents_online);
        // Anything that changed while we were away came as no frame: fetch it again.
        if (again) queue.load().catch(() => {});
        f.reconnected = again;
      } else if (f.type === "agents") S.setOnline(f.online);
      else if (f.type === "queue") {
        S.setOnline(f.agents_online);
        queue.apply(f.conversation);
      }
      live.handlers.forEach((fn) => fn(f));
    };
    ws.onclose = (ev) => {
      if (live.ws !== ws) return;
      live.ws = null;
      live.connected = false;
      clearInterval(live.ping);
      live.handlers.forEach((fn) => fn({ type: "closed", code: ev.code }));
      if (ev.code === 4401) return S.toLogin();
      if (ev.code === 4403) return setLive("error", "Live updates refused (origin); reload the page");
      retry(ev.code === 4408 ? 0 : null);
    };
    ws.onopen = () => {
      clearInterval(live.ping);
      live.ping = setInterval(() => S.send({ type: "ping" }), 25000);
    };
  };
  // 1 s, 2 s, 4 s … 30 s, with jitter so a restarted gateway isn't hit by every console at once.
  const retry = (delay) => {
    setLive("offline", "Offline — reconnecting…");
    const d = delay != null ? delay : Math.min(30000, 1000 * 2 ** Math.min(live.attempt, 5));
    live.attempt++;
    live.timer = setTimeout(connect, d * (0.75 + Math.random() * 0.5));
  };
  window.addEventListener("online", () => {
    if (!live.ws) connect();
  });

  // Every console page: the session (401 -> login), the header, the queue count, the socket.
  // A server that is down at load time is tried again; 401 has already left for the login.
  S.boot = async () => {
    initHeader();
    for (let wait = 2000; ; wait = Math.min(wait * 2, 30000)) {
      try {
        await S.me();
        break;
      } catch (e) {
        if (e.status === 401) throw e;
        setLive("error", e.message);
        await new Promise((ok) => setTimeout(ok, wait));
      }
    }
    queue.load().catch(() => {});
    connect();
  };

  // ---- suggestion and order cards (console and e-mail page)
  // One FAQ suggestion. `onUse(answer, faqId)` puts the answer where the agent edits it.
  S.suggestionCard = (s, onUse, disabled) => {
    const answer = h("p", "suggestion-answer clamped", null, [s.answer || ""]);
    const more = S.button("more", "more", { "aria-expanded": "false", hidden: "" });
    more.addEventListener("click", () => {
      const open = answer.classList.toggle("clamped");
      more.textContent = open ? "more" : "less";
      more.setAttribute("aria-expanded", String(!open));
    });
    const use = S.button("use", "Use", { "aria-label": "Use this answer: " + (s.question || ""), disabled });
    use.addEventListener("click", () => onUse(s.answer || "", s.faq_id));
    const card = h("li", "suggestion", { "data-faq": s.faq_id }, [
      h("div", "suggestion-head", null, [
        h("span", "suggestion-score", { title: "How close the FAQ entry is to the message" }, [S.pct(s.score)]),
        h("span", "suggestion-section", null, [s.section || ""]),
      ]),
      h("p", "suggestion-question", null, [s.question || ""]),
      answer,
      h("div", "suggestion-actions", null, [more, use]),
    ]);
    // Show "more" only when the clamp actually hides something (needs layout first).
    requestAnimationFrame(() => {
      if (answer.scrollHeight > answer.clientHeight + 2) more.hidden = false;
    });
    return card;
  };
  S.suggestionList = (list, onUse, disabled) =>
    h("ol", "suggestion-list", null, list.slice(0, 3).map((s) => S.suggestionCard(s, onUse, disabled)));

  const STATUS = {
    awaiting_payment: "Awaiting payment",
    in_production: "In production",
    shipped: "Shipped",
    delivered: "Delivered",
    cancelled: "Cancelled",
  };
  const status = (o) => STATUS[o.status] || String(o.status || "");
  const isFinance = (p) => p && p.parts_total > 1;
  // A short, neutral sentence made only of the backend's facts: nothing is inferred or promised.
  S.orderSentence = (o) => {
    if (!o || o.error || !o.order_number) return null;
    const n = "Your order " + o.order_number;
    const eta = o.crafting_eta;
    const sh = o.shipment || {};
    const pay = isFinance(o.payment) ? ` (${o.payment.parts_paid} of ${o.payment.parts_total} payments made)` : "";
    switch (o.status) {
      case "in_production":
        return eta && eta.earliest && eta.latest
          ? `${n} is in production; we expect to finish it between ${S.fmtDate(eta.earliest)} and ${S.fmtDate(eta.latest)}.`
          : `${n} is in production.`;
      case "awaiting_payment":
        return `${n} is awaiting payment${pay}.`;
      case "shipped": {
        const when = sh.shipped_at ? " on " + S.fmtDate(sh.shipped_at) : "";
        const by = sh.carrier ? " with " + sh.carrier : "";
        const track = sh.tracking_number ? `; the tracking number is ${sh.tracking_number}` : "";
        return `${n} was shipped${by}${when}${track}.`;
      }
      case "delivered":
        return sh.delivered_at ? `${n} was delivered on ${S.fmtDate(sh.delivered_at)}.` : `${n} has been delivered.`;
      case "cancelled":
        return `${n} has been cancelled.`;
      default:
        return `The status of ${n.slice(5)} is: ${status(o)}.`;
    }
  };
  const fact = (dl, term, ...value) => {
    if (value.some((v) => v == null || v === "")) return;
    dl.append(h("dt", null, null, [term]), h("dd", null, null, value));
  };
  const POSSIBLE = [
    ["cancel", "Cancel"],
    ["change", "Change"],
    ["return", "Return / exchange"],
  ];
  S.orderCard = (o, onUse, disabled) => {
    const card = h("section", "order-facts", { "aria-label": "Order " + (o.order_number || "") });
    card.append(h("h3", null, null, ["Order " + (o.order_number || "")]));
    if (o.error) {
      card.append(h("p", "order-error", null, [o.error]));
      return card;
    }
    const dl = h("dl", "facts");
    fact(dl, "Status", h("strong", "order-status", { "data-status": o.status }, [status(o)]));
    fact(dl, "Placed", o.placed_at && S.fmtDate(o.placed_at));
    const eta = o.crafting_eta;
    if (eta) fact(dl, "Crafting ETA", S.fmtDate(eta.earliest) + " – " + S.fmtDate(eta.latest));
    (o.items || []).forEach((it, i) => {
      const bits = [it.product, it.gemstone, it.metal, it.ring_size != null ? "size " + it.ring_size : null];
      fact(dl, o.items.length > 1 ? "Item " + (i + 1) : "Item", bits.filter((b) => b != null && b !== "").join(", "));
    });
    const sh = o.shipment;
    if (sh) {
      fact(dl, "Carrier", [sh.carrier, sh.tracking_number].filter(Boolean).join(" · "));
      fact(dl, "Shipped", sh.shipped_at && S.fmtDate(sh.shipped_at));
      fact(dl, "Delivered", sh.delivered_at && S.fmtDate(sh.delivered_at));
    }
    const p = o.payment;
    if (isFinance(p)) fact(dl, "Finance", `${p.parts_paid} of ${p.parts_total} parts paid`);
    else if (p) fact(dl, "Payment", [p.method, p.provider].filter(Boolean).join(" · "));
    if (o.return_window_ends) fact(dl, "Return window", "until " + S.fmtDate(o.return_window_ends));
    if (o.change_used) fact(dl, "Change", "already used");
    if ((o.open_returns || []).length) fact(dl, "Open returns", String(o.open_returns.length));
    card.append(dl);
    const rules = h("ul", "possible");
    for (const [key, label] of POSSIBLE) {
      const r = (o.possible || {})[key];
      if (!r) continue;
      const verdict = r.possible ? "possible" + (r.until ? " until " + S.fmtDate(r.until) : "") : "not possible";
      const li = h("li", r.possible ? "yes" : "no", null, [
        h("span", "possible-what", null, [label + ": "]),
        h("strong", null, null, [verdict]),
      ]);
      if (!r.possible && r.message) li.append(h("span", "possible-why", null, [r.message]));
      rules.append(li);
    }
    if (rules.children.length) card.append(rules);
    const sentence = S.orderSentence(o);
    if (sentence && onUse) {
      const use = S.button("use-order", "Use order summary", { disabled, title: sentence });
      use.addEventListener("click", () => onUse(sentence, "order"));
      card.append(h("p", "order-sentence", null, ["“" + sentence + "”"]), use);
    }
    return card;
  };

  // Copy text; where the clipboard API is refused, select it for Ctrl+C instead.
  S.copy = async (text, selectEl) => {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      if (selectEl && selectEl.select) {
        selectEl.focus();
        selectEl.select();
      } else if (selectEl) getSelection().selectAllChildren(selectEl);
      return false;
    }
  };
  S.newId = (prefix) => {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return prefix + Array.from(b, (x) => x.toString(36).padStart(2, "0")).join("");
  };
})();
