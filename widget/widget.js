/* KNT chat widget. One tag embeds it:
 *   <script src="https://shop.example/widget.js" data-server="https://chat.example" defer></script>
 * Everything lives in the Shadow DOM of one <knt-chat> element; all text is set with
 * textContent/text nodes, never parsed as HTML. Protocol: docs/widget-protocol.md. */
(() => {
  "use strict";
  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (window.KNTChat || document.querySelector("knt-chat")) return; // embedded twice

  const ds = (script && script.dataset) || {};
  let base;
  try {
    base = ds.server
      ? new URL(ds.server, location.href)
      : new URL(new URL(script && script.src ? script.src : location.href).origin);
  } catch (e) {
    return;
  }
  if (!/^https?:$/.test(base.protocol)) return;
  const HTTP = (base.origin + base.pathname).replace(/\/+$/, "");
  const WS_URL = HTTP.replace(/^http/, "ws") + "/ws";
  const TITLE = ds.title || "KNT Support";
  const LEFT = ds.position === "left";
  const HANDOFF_TEXT = "A person from our team will take over.";

  // ---- storage (never throws: private modes and blocked storage just lose persistence)
  const KEY = "knt-chat:";
  const store = (kind) => {
    try {
      return window[kind];
    } catch (e) {
      return null;
    }
  };
  const getRaw = (k, kind = "localStorage") => {
    try {
      return store(kind).getItem(KEY + k);
    } catch (e) {
      return null;
    }
  };
  const setRaw = (k, v, kind = "localStorage") => {
    try {
      if (v == null || v === "") store(kind).removeItem(KEY + k);
      else store(kind).setItem(KEY + k, v);
    } catch (e) {
      /* storage full or blocked */
    }
  };
  let memOutbox = [];
  const getOutbox = () => {
    try {
      const v = JSON.parse(getRaw("outbox"));
      if (Array.isArray(v)) return v;
    } catch (e) {
      /* fall through */
    }
    return memOutbox;
  };
  const setOutbox = (list) => {
    memOutbox = list;
    setRaw("outbox", list.length ? JSON.stringify(list) : null);
  };

  // ---- DOM helpers (strings passed to append() become text nodes)
  const h = (tag, cls, attrs, kids) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const k in attrs || {}) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    if (kids) e.append(...kids);
    return e;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const icon = (d) => {
    const s = document.createElementNS(SVG, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", d);
    s.append(p);
    return s;
  };
  const I = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M3 20l18-8L3 4v6l12 2-12 2z",
    up: "M7 10v10H3V10zm2 10h8.5a2 2 0 0 0 2-1.6l1.3-6A2 2 0 0 0 18.8 10H14l.8-4a2 2 0 0 0-3.6-1.4L9 9z",
    down: "M7 14V4H3v10zm2-10h8.5a2 2 0 0 1 2 1.6l1.3 6a2 2 0 0 1-2 2.4H14l.8 4a2 2 0 0 1-3.6 1.4L9 15z",
  };
  const button = (cls, label, kids, attrs) =>
    h("button", cls, Object.assign({ type: "button", "aria-label": label }, attrs), kids);

  // ---- the host element and its shadow root
  const host = h("knt-chat", LEFT ? "knt-host knt-left" : "knt-host", { id: "knt-chat" });
  const root = host.attachShadow({ mode: "open" });
  const css = h("link", null, { rel: "stylesheet", href: HTTP + "/widget.css" });
  const ui = h("div", "knt-root", { hidden: "" });
  css.addEventListener("load", () => (ui.hidden = false));
  css.addEventListener("error", () => console.warn("KNT chat: widget.css did not load"));

  const titleEl = h("h2", "knt-title", { id: "knt-title" }, [TITLE]);
  const subEl = h("p", "knt-sub", null, ["We usually answer right away"]);
  const restartBtn = button("knt-hbtn knt-restart", "Start over", ["Start over"]);
  const closeBtn = button("knt-hbtn knt-close", "Close chat", [icon(I.close)]);
  const confirmYes = button("knt-cbtn knt-confirm-yes", "Yes, start over", ["Start over"]);
  const confirmNo = button("knt-cbtn knt-confirm-no", "Cancel", ["Cancel"]);
  const confirmText = h("p", null, { id: "knt-confirm-text" }, [
    "Start a new conversation? The current one will be cleared.",
  ]);
  const confirmBar = h(
    "div",
    "knt-confirm",
    { role: "group", "aria-labelledby": "knt-confirm-text", hidden: "" },
    [confirmText, h("div", "knt-confirm-actions", null, [confirmYes, confirmNo])],
  );
  const statusEl = h("div", "knt-status", { role: "status", hidden: "" });
  const log = h("div", "knt-log", { role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const typingLabel = h("span", "knt-sr", null, [TITLE + " is typing"]);
  const typingName = h("span", "knt-typing-name", { "aria-hidden": "true", hidden: "" });
  const typingEl = h("div", "knt-typing", { hidden: "" }, [
    typingLabel,
    typingName,
    h("span", "knt-dots", { "aria-hidden": "true" }, [h("i"), h("i"), h("i")]),
  ]);
  // Older messages than the last ones the server sends on connect are loaded on request.
  const moreBtn = h("button", "knt-more", { type: "button", hidden: "" }, ["Show earlier messages"]);
  const body = h("div", "knt-body", null, [moreBtn, log, typingEl]);
  const noticeEl = h("div", "knt-notice", { role: "alert", hidden: "" });
  const input = h("textarea", "knt-input", {
    id: "knt-input",
    rows: "1",
    placeholder: "Type your question…",
    "aria-describedby": "knt-count",
    autocomplete: "off",
  });
  const sendBtn = h("button", "knt-send", { type: "submit", "aria-label": "Send" }, [icon(I.send)]);
  const countEl = h("div", "knt-count", { id: "knt-count", "aria-live": "polite" });
  const form = h("form", "knt-form", null, [
    h("label", "knt-sr", { for: "knt-input" }, ["Your message"]),
    input,
    sendBtn,
  ]);
  const humanBtn = button("knt-human", null, ["Talk to a person"]);
  // Shown when nobody from the team is free: the shopper may leave an e-mail for the reply.
  const contactInput = h("input", "knt-contact-input", {
    id: "knt-contact-input",
    type: "email",
    autocomplete: "email",
    maxlength: "254",
    placeholder: "you@example.com",
  });
  const contactBtn = h("button", "knt-contact-send", { type: "submit" }, ["Send"]);
  const contactForm = h("form", "knt-contact", { hidden: "", "aria-label": "Get the answer by e-mail" }, [
    h("label", "knt-contact-label", { for: "knt-contact-input" }, ["Get the answer by e-mail:"]),
    h("div", "knt-contact-row", null, [contactInput, contactBtn]),
  ]);
  const panel = h(
    "section",
    "knt-panel",
    { id: "knt-panel", role: "dialog", "aria-label": TITLE, hidden: "" },
    [
      h("header", "knt-header", null, [
        h("div", "knt-heading", null, [titleEl, subEl]),
        restartBtn,
        closeBtn,
      ]),
      confirmBar,
      statusEl,
      body,
      noticeEl,
      contactForm,
      form,
      h("div", "knt-footer", null, [countEl, humanBtn]),
    ],
  );
  const badge = h("span", "knt-badge", { "aria-hidden": "true", hidden: "" });
  const launcher = button("knt-launcher", "Open chat", [icon(I.chat), badge], {
    "aria-expanded": "false",
    "aria-controls": "knt-panel",
  });
  ui.append(panel, launcher);
  root.append(css, ui);

  // ---- state
  let isOpen = false;
  let unread = 0;
  let limit = 2048; // session.limits.max_message_bytes
  let ws = null; // the current socket
  let ready = false; // session frame received on `ws`
  let attempt = 0;
  let retryTimer = 0;
  let flushTimer = 0;
  let idle = false; // closed for idleness (4408/4400): reconnect on interaction only
  let inflight = new Set(); // outbox ids sent on the current connection
  const seen = new Map(); // message id -> element (or null when not shown)
  const pending = new Map(); // client id -> optimistic shopper bubble
  const thumbs = new Map(); // bot message id -> [upBtn, downBtn]
  const fbQueue = new Map(); // feedback chosen while offline
  let handoff = null; // the hand-off state from the server (null: the assistant answers)
  let typingSentAt = 0; // when we last told an agent the shopper is typing
  let typingOffTimer = 0;
  let oldest = null; // the smallest message id shown (older ones are loaded on request)

  // ---- formatting
  const fmtTime = (ts) => {
    const d = ts ? new Date(ts) : new Date();
    if (isNaN(d)) return "";
    const t = { hour: "2-digit", minute: "2-digit" };
    return d.toDateString() === new Date().toDateString()
      ? d.toLocaleTimeString([], t)
      : d.toLocaleString([], Object.assign({ month: "short", day: "numeric" }, t));
  };
  const LINK =
    /\bhttps?:\/\/[^\s<>"'`]+|\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g;
  const safeHref = (s) => {
    try {
      const u = new URL(s);
      return ["http:", "https:", "mailto:"].includes(u.protocol) ? u.href : null;
    } catch (e) {
      return null;
    }
  };
  // Bot text with its URLs and e-mail addresses as links built with DOM APIs.
  const richText = (parent, text) => {
    let last = 0;
    for (const m of text.matchAll(LINK)) {
      const s = m[0].replace(/[.,;:!?)\]}'"]+$/, "");
      const href = safeHref(s.includes("://") ? s : "mailto:" + s);
      parent.append(text.slice(last, m.index));
      if (href) {
        const a = h("a", "knt-link", { target: "_blank", rel: "noopener noreferrer" }, [s]);
        a.href = href;
        parent.append(a);
      } else parent.append(s);
      last = m.index + s.length;
    }
    parent.append(text.slice(last));
  };
  const frameBytes = (text, payload) =>
    new TextEncoder().encode(
      JSON.stringify({ type: "message", id: "x".repeat(25), text, payload: payload || undefined }),
    ).length;

  // ---- rendering
  const atBottom = () => body.scrollHeight - body.scrollTop - body.clientHeight < 60;
  const scrollDown = (force) => {
    if (force || atBottom()) body.scrollTop = body.scrollHeight;
  };
  const meta = (ts, extra) =>
    h("div", "knt-meta", null, [h("time", "knt-time", ts ? { datetime: ts } : null, [fmtTime(ts)])].concat(extra || []));
  const hideQuickReplies = () => log.querySelectorAll(".knt-qr").forEach((e) => e.remove());

  const shopperEl = (text, ts, state) =>
    h("div", "knt-msg knt-shopper" + (state ? " knt-" + state : ""), null, [
      h("span", "knt-sr", null, ["You said: "]),
      h("div", "knt-bubble", null, [text || ""]),
      meta(ts, state === "sending" ? [h("span", "knt-state", null, ["Sending…"])] : []),
    ]);

  // aria-pressed shows the stored state; a click shows as pending until feedback_saved.
  const setThumbs = (id, value, pendingValue) => {
    const t = thumbs.get(id);
    if (!t) return;
    t.forEach((b, i) => {
      const v = i ? "down" : "up";
      if (!pendingValue) b.setAttribute("aria-pressed", String(value === v));
      b.classList.toggle("knt-pending", pendingValue === v);
    });
  };
  const sendFeedback = (id, value) => {
    setThumbs(id, null, value);
    if (!sendFrame({ type: "feedback", message_id: id, value })) fbQueue.set(id, value);
  };
  const feedbackEl = (m) => {
    const up = button("knt-fb knt-fb-up", "Helpful", [icon(I.up)], { "aria-pressed": "false" });
    const down = button("knt-fb knt-fb-down", "Not helpful", [icon(I.down)], { "aria-pressed": "false" });
    up.addEventListener("click", () => sendFeedback(m.id, "up"));
    down.addEventListener("click", () => sendFeedback(m.id, "down"));
    thumbs.set(m.id, [up, down]);
    setThumbs(m.id, m.feedback);
    return h("span", "knt-fbs", { role: "group", "aria-label": "Was this answer helpful?" }, [up, down]);
  };

  const botEl = (m) => {
    const el = h("div", "knt-msg knt-bot", { "data-id": String(m.id) }, [
      h("span", "knt-sr", null, [TITLE + " said: "]),
    ]);
    if (m.text) {
      const bubble = h("div", "knt-bubble");
      richText(bubble, m.text);
      el.append(bubble, meta(m.ts, [feedbackEl(m)]));
    }
    const buttons = (m.buttons || []).filter((b) => b && b.title);
    if (buttons.length) {
      el.append(
        h(
          "div",
          "knt-qr",
          { role: "group", "aria-label": "Suggested replies" },
          buttons.map((b) => {
            const q = button("knt-qr-btn", null, [b.title]);
            q.addEventListener("click", () => send(b.title, b.payload));
            return q;
          }),
        ),
      );
    }
    return el;
  };

  const systemEl = (text) => h("div", "knt-msg knt-system", { role: "note" }, [text]);

  const agentEl = (m) => {
    const name = m.author || "Our team";
    const bubble = h("div", "knt-bubble");
    richText(bubble, m.text || "");
    return h("div", "knt-msg knt-agent", { "data-id": String(m.id) }, [
      h("span", "knt-sr", null, [name + " from our team said: "]),
      h("div", "knt-author", { "aria-hidden": "true" }, [name + " · KNT team"]),
      bubble,
      meta(m.ts),
    ]);
  };

  // `state`: the server's hand-off object (docs/widget-protocol.md), or null for the bot.
  const setHandoff = (state) => {
    handoff = state && state.state && state.state !== "bot" && state.state !== "closed" ? state : null;
    humanBtn.hidden = !!handoff;
    let sub = "We usually answer right away";
    if (handoff && handoff.state === "claimed") sub = `You're chatting with ${handoff.agent || "our team"}`;
    else if (handoff && handoff.unavailable) sub = "Nobody from our team is free right now";
    else if (handoff) sub = "Waiting for a person from our team";
    subEl.textContent = sub;
    const ask = !!(handoff && handoff.unavailable && !handoff.contact_email);
    if (contactForm.hidden === ask) contactForm.hidden = !ask;
    if (!handoff || handoff.state !== "claimed") stopTyping();
  };

  // Render one stored message; `live` = it arrived now (not from session.history);
  // `into`: a fragment that collects older messages (loaded on request) to go on top.
  const renderMessage = (m, live, into) => {
    if (!m || typeof m.id !== "number") return;
    if (seen.has(m.id)) {
      if (m.feedback) setThumbs(m.id, m.feedback);
      return;
    }
    if (oldest === null || m.id < oldest) oldest = m.id;
    const target = into || log;
    const follow = atBottom();
    let el = null;
    if (m.role === "shopper") {
      if (!into) hideQuickReplies();
      el = shopperEl(m.text, m.ts);
      const p = m.client_id && pending.get(m.client_id);
      if (p && !into) {
        p.replaceWith(el);
        pending.delete(m.client_id);
        dropFromOutbox(m.client_id);
      } else target.append(el);
    } else {
      const custom = m.custom || {};
      if (m.role === "agent") el = agentEl(m);
      else if (m.role === "system") el = m.text ? systemEl(m.text) : null;
      else if (custom.handoff) {
        el = systemEl(m.text || HANDOFF_TEXT);
        // An old hand-off (from history) says nothing about now: session.handoff does.
        if (live && !handoff) setHandoff({ state: "waiting", reason: custom.handoff.reason });
      } else if (m.text || (m.buttons && m.buttons.length)) el = botEl(m);
      if (el) {
        target.append(el);
        if (live && !isOpen) setUnread(unread + 1);
        if (live && noticeEl.dataset.code === "assistant_unavailable") notice(null); // it's back
      }
    }
    seen.set(m.id, el);
    if (el && !into) scrollDown(follow || m.role === "shopper");
  };

  // Older messages, above what is shown; the reader's place in the log stays put.
  const renderOlder = (messages, more) => {
    const frag = document.createDocumentFragment();
    for (const m of messages) renderMessage(m, false, frag);
    frag.querySelectorAll(".knt-qr").forEach((e) => e.remove()); // answered long ago
    const height = body.scrollHeight;
    log.prepend(frag);
    body.scrollTop += body.scrollHeight - height;
    moreBtn.hidden = !more;
    moreBtn.disabled = false;
  };
  moreBtn.addEventListener("click", () => {
    if (oldest !== null && sendFrame({ type: "history", before: oldest })) moreBtn.disabled = true;
  });

  const clearLog = () => {
    log.replaceChildren();
    oldest = null;
    moreBtn.hidden = true;
    moreBtn.disabled = false;
    seen.clear();
    pending.clear();
    thumbs.clear();
    setTyping(false);
    setHandoff(null);
  };

  const showPending = (entry) => {
    if (pending.has(entry.id)) return;
    hideQuickReplies();
    const el = shopperEl(entry.text, entry.ts, "sending");
    pending.set(entry.id, el);
    log.append(el);
    scrollDown(true);
  };

  const setTyping = (on, name) => {
    const follow = atBottom();
    typingLabel.textContent = (name || TITLE) + " is typing";
    typingName.textContent = name ? name + " is typing" : "";
    typingName.hidden = !name;
    typingEl.hidden = !on;
    if (on) scrollDown(follow);
  };

  // While a person answers, tell them the shopper is typing (at most every 2 s), and that
  // they stopped after 3 s without a key or once the message is sent.
  const shopperTyping = () => {
    if (!handoff || handoff.state !== "claimed") return;
    clearTimeout(typingOffTimer);
    const now = Date.now();
    if (input.value.trim() && now - typingSentAt > 2000 && sendFrame({ type: "typing", on: true }))
      typingSentAt = now;
    typingOffTimer = setTimeout(stopTyping, 3000);
  };
  const stopTyping = () => {
    clearTimeout(typingOffTimer);
    if (typingSentAt) sendFrame({ type: "typing", on: false });
    typingSentAt = 0;
  };

  const setUnread = (n) => {
    unread = n;
    badge.textContent = n > 9 ? "9+" : String(n);
    badge.hidden = n === 0;
    launcher.setAttribute(
      "aria-label",
      (isOpen ? "Close chat" : "Open chat") + (n ? ` (${n} unread message${n > 1 ? "s" : ""})` : ""),
    );
  };

  let noticeTimer = 0;
  const notice = (text, ms, code) => {
    clearTimeout(noticeTimer);
    noticeEl.dataset.code = code || "";
    noticeEl.replaceChildren();
    if (text) richText(noticeEl, text); // server notices may name the support e-mail
    noticeEl.hidden = !text;
    if (text && ms) noticeTimer = setTimeout(() => notice(null), ms);
  };
  const status = (text) => {
    statusEl.textContent = text || "";
    statusEl.hidden = !text;
  };

  // ---- outbox: messages the shopper sent that the server has not acknowledged yet
  const dropFromOutbox = (id) => {
    inflight.delete(id);
    setOutbox(getOutbox().filter((e) => e.id !== id));
    const p = pending.get(id);
    if (p) {
      p.classList.remove("knt-sending", "knt-waiting");
      const s = p.querySelector(".knt-state");
      if (s) s.remove();
    }
  };
  const flush = () => {
    clearTimeout(flushTimer);
    if (!ready) return;
    const now = Date.now();
    for (const e of getOutbox()) {
      if (e.retryAt && e.retryAt > now) {
        flushTimer = setTimeout(flush, e.retryAt - now + 50);
        break; // keep the order: later messages wait too
      }
      if (inflight.has(e.id)) continue;
      const frame = { type: "message", id: e.id, text: e.text };
      if (e.payload) frame.payload = e.payload;
      if (!sendFrame(frame)) break;
      inflight.add(e.id);
    }
  };
  const newId = () => {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return "w" + Array.from(b, (x) => x.toString(36).padStart(2, "0")).join("");
  };

  const send = (text, payload) => {
    text = (text || "").trim();
    if (!text) return false;
    if (frameBytes(text, payload) > limit) {
      notice(`That message is too long: the limit is about ${limit - 80} characters.`);
      return false;
    }
    const entry = { id: newId(), text, ts: new Date().toISOString() };
    if (payload) entry.payload = payload;
    setOutbox(getOutbox().concat([entry]));
    showPending(entry);
    notice(null);
    wake();
    flush();
    return true;
  };

  const sendFrame = (frame) => {
    if (!ws || !ready || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  };

  // ---- connection
  const connect = () => {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws) return;
    idle = false;
    let s;
    try {
      s = new WebSocket(WS_URL);
    } catch (e) {
      reconnectLater();
      return;
    }
    ws = s;
    ready = false;
    ui.dataset.state = "connecting";
    s.onopen = () => s.send(JSON.stringify({ type: "hello", token: getRaw("token") || null }));
    s.onmessage = (ev) => {
      if (ws !== s) return;
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (f && typeof f.type === "string") onFrame(f);
    };
    s.onclose = (ev) => {
      if (ws !== s) return;
      ws = null;
      ready = false;
      inflight = new Set();
      setTyping(false);
      ui.dataset.state = "offline";
      if (ev.code === 4408 || ev.code === 4400) {
        idle = true; // reconnect when the shopper interacts again
        status(null);
        return;
      }
      reconnectLater();
    };
  };
  const reconnectLater = () => {
    status("Offline — reconnecting…");
    const d = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5));
    attempt++;
    retryTimer = setTimeout(connect, d * (0.75 + Math.random() * 0.5));
  };
  // The shopper did something: reconnect if the socket was closed for idleness.
  const wake = () => {
    if (!ws && (idle || !retryTimer)) connect();
  };

  const onFrame = (f) => {
    switch (f.type) {
      case "session": {
        attempt = 0;
        ready = true;
        ui.dataset.state = "online";
        status(null);
        if (f.token) setRaw("token", f.token);
        if (f.limits && f.limits.max_message_bytes) {
          limit = f.limits.max_message_bytes;
          input.maxLength = limit;
        }
        clearLog();
        const history = Array.isArray(f.history) ? f.history : [];
        const stored = new Set();
        for (const m of history) {
          renderMessage(m, false);
          if (m && m.client_id) stored.add(m.client_id);
        }
        moreBtn.hidden = !f.more_history;
        setHandoff(f.handoff || null);
        for (const e of getOutbox()) {
          if (stored.has(e.id)) dropFromOutbox(e.id);
          else showPending(e);
        }
        if (f.renewed && f.notice) notice(f.notice, 15000);
        for (const [id, value] of fbQueue) sendFrame({ type: "feedback", message_id: id, value });
        fbQueue.clear();
        flush();
        scrollDown(true);
        break;
      }
      case "ack":
        dropFromOutbox(f.id);
        break;
      case "message":
        renderMessage(f.message, true);
        break;
      case "typing":
        setTyping(!!f.on, f.who === "agent" ? f.name || "Our team" : null);
        break;
      case "handoff":
        if (!handoff) setHandoff({ state: "waiting", reason: f.reason });
        break;
      case "handoff_state":
        setHandoff(f.handoff || null);
        break;
      case "contact_saved":
        if (handoff) setHandoff(Object.assign({}, handoff, { contact_email: f.email }));
        contactInput.value = "";
        break;
      case "reset":
        clearLog();
        getOutbox().forEach(showPending);
        break;
      case "feedback_saved":
        setThumbs(f.message_id, f.value);
        break;
      case "history":
        renderOlder(Array.isArray(f.messages) ? f.messages : [], !!f.more_history);
        break;
      case "error":
        onError(f);
        break;
    }
  };

  const onError = (f) => {
    moreBtn.disabled = false; // a refused `history` request may be asked again
    const entry = f.id ? getOutbox().find((e) => e.id === f.id) : null;
    const msg = f.message || "Something went wrong.";
    const p = entry && pending.get(entry.id);
    // rate_limited: sent again when allowed; server_error: the server may not have
    // stored it, so it is sent again shortly (stored once: the id makes it so).
    // A message the server keeps failing on is given up after 3 tries (with the reason
    // shown), so it can't hold back the ones typed after it.
    if (f.code === "server_error" && entry) entry.failures = (entry.failures || 0) + 1;
    if (f.code === "server_error" && entry && entry.failures >= 3) {
      dropFromOutbox(entry.id);
      if (p) p.classList.add("knt-failed");
      pending.delete(entry.id);
      notice(msg, 12000, f.code);
      return;
    }
    if ((f.code === "rate_limited" || f.code === "server_error") && entry) {
      const wait = Math.max(1, Number(f.retry_after) || (f.code === "server_error" ? 3 : 5));
      entry.retryAt = Date.now() + wait * 1000;
      setOutbox(getOutbox().map((e) => (e.id === entry.id ? entry : e)));
      inflight.delete(entry.id);
      if (p) p.classList.add("knt-waiting");
      notice(msg, wait * 1000);
      flush();
      return;
    }
    if (entry && (f.code === "too_large" || f.code === "bad_request" || f.code === "not_found")) {
      dropFromOutbox(entry.id);
      if (p) p.remove();
      pending.delete(entry.id);
      if (f.code === "too_large") {
        input.value = input.value ? entry.text + "\n" + input.value : entry.text;
        onInput();
        notice(/\d/.test(msg) ? msg : `${msg} (limit: about ${limit - 80} characters)`);
        input.focus();
        return;
      }
    }
    notice(msg, f.code === "assistant_unavailable" ? 0 : 12000, f.code);
  };

  // ---- panel
  const open = (focus = true) => {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    host.classList.add("knt-open");
    launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    setRaw("open", "1", "sessionStorage");
    wake();
    scrollDown(true);
    autosize();
    if (focus) input.focus();
  };
  const close = (focusLauncher) => {
    if (!isOpen) return;
    isOpen = false;
    confirmBar.hidden = true;
    panel.hidden = true;
    host.classList.remove("knt-open");
    launcher.setAttribute("aria-expanded", "false");
    setUnread(unread);
    setRaw("open", null, "sessionStorage");
    if (focusLauncher !== false) launcher.focus();
  };

  const autosize = () => {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  };
  const onInput = () => {
    autosize();
    setRaw("draft", input.value);
    const left = limit - frameBytes(input.value.trim());
    const over = left < 0;
    input.setAttribute("aria-invalid", String(over));
    sendBtn.disabled = over;
    countEl.textContent = over
      ? `Too long by ${-left} characters`
      : left < 200
        ? `${left} characters left`
        : "";
    countEl.classList.toggle("knt-over", over);
  };
  const submit = () => {
    if (send(input.value)) {
      input.value = "";
      onInput();
      stopTyping();
    }
  };

  launcher.addEventListener("click", () => (isOpen ? close() : open()));
  closeBtn.addEventListener("click", () => close());
  restartBtn.addEventListener("click", () => {
    confirmBar.hidden = false;
    confirmNo.focus();
  });
  confirmNo.addEventListener("click", () => {
    confirmBar.hidden = true;
    restartBtn.focus();
  });
  confirmYes.addEventListener("click", () => {
    confirmBar.hidden = true;
    wake();
    if (sendFrame({ type: "restart" })) {
      setOutbox([]);
      inflight.clear();
      clearLog();
    } else notice("You're offline: try again once we're reconnected.", 8000);
    input.focus();
  });
  humanBtn.addEventListener("click", () => send("Talk to a person", "/human_handoff"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
    input.focus();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    onInput();
    shopperTyping();
  });
  contactForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const email = contactInput.value.trim();
    if (!email) return contactInput.focus();
    wake();
    if (!sendFrame({ type: "contact", email }))
      notice("You're offline: try again once we're reconnected.", 8000);
  });
  input.addEventListener("focus", wake);
  panel.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    if (!confirmBar.hidden) {
      confirmBar.hidden = true;
      restartBtn.focus();
    } else close();
  });
  window.addEventListener("online", () => {
    if (!ws) connect();
  });
  // Another tab started the conversation: join it, so this tab's badge counts its answers.
  window.addEventListener("storage", (e) => {
    if (e.key === KEY + "token" && e.newValue && !ws && !idle) connect();
  });

  // ---- start
  const start = () => {
    document.body.append(host);
    const draft = getRaw("draft");
    if (draft) input.value = draft;
    onInput();
    getOutbox().forEach(showPending); // still unsent from the last page: shown at once
    // Connect now only when there is a conversation to show or something to send;
    // a first-time visitor connects when they open the panel.
    if (getRaw("token") || getOutbox().length) connect();
    if (ds.open === "true" || getRaw("open", "sessionStorage")) open(false);
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);

  window.KNTChat = { open: () => open(), close: () => close(false) };
})();
