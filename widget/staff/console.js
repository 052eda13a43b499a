/* The conversations page: the hand-off queue and live chats (left), the open conversation
 * with its actions and reply box (middle), suggested replies for the shopper's latest
 * message (right). Live via Staff's socket; docs/staff-api.md is the contract. */
(() => {
  "use strict";
  const S = window.Staff;
  const { h, $ } = S;

  const queueEl = $("#queue");
  const liveEl = $("#live");
  const convEl = $(".conv");
  const transcript = $(".transcript");
  const scroller = $(".transcript-scroll");
  const typingEl = $(".typing-shopper");
  const banner = $(".handoff-banner");
  const actionError = $(".action-error");
  const claimBtn = $("#claim");
  const releaseBtn = $("#release");
  const closeBtn = $("#close");
  const form = $(".composer");
  const reply = $("#reply");
  const sendBtn = $("#send");
  const note = $(".reply-note");
  const replyError = $(".reply-error");
  const sugEl = $(".suggestions");
  const sugStatus = $(".suggestions-status");

  // The open conversation: null, or {id, summary, order, seen (message id -> element or
  // null), newestShopper (id of the newest shopper message we know), sugSeq, sugApplied}.
  let cur = null;
  const mine = (s) => !!(s && s.state === "claimed" && s.agent && S.agent && s.agent.id === S.agent.id);
  const canReply = () => !!cur && mine(cur.summary) && !cur.summary.ended;
  const lcFirst = (t) => t.charAt(0).toLowerCase() + t.slice(1);
  const path = (id, what) => "/api/staff/conversations/" + encodeURIComponent(id) + (what ? "/" + what : "");

  // ---------------------------------------------------------------- queue (left)
  const ROLE = { shopper: "Shopper", bot: "Bot", agent: "Agent", system: "Notice" };
  const preview = (m) => (m ? (ROLE[m.role] || m.role) + ": " + (m.text || "…") : "No messages yet");
  const qItems = new Map(); // conversation id -> {li, btn, wait, sig}

  const queueContent = (c) => {
    const you = mine(c);
    const who = c.state === "waiting" ? "Waiting" : you ? "You" : (c.agent && c.agent.name) || "Claimed";
    const badges = [];
    if (c.contact_email) badges.push(h("span", "badge badge-contact", { title: c.contact_email }, ["E-mail left"]));
    if (c.unavailable) badges.push(h("span", "badge badge-unavailable", null, ["told nobody is free"]));
    if (c.ended) badges.push(h("span", "badge badge-ended", null, ["left the chat"]));
    return [
      h("span", "queue-line", null, [
        h("span", "queue-reason", null, [S.reason(c.reason) || "Handed off"]),
        h("span", "queue-wait", { "aria-hidden": "true" }),
        h("span", "sr-only", null, [" since " + S.fmtTime(c.since) + ". "]),
      ]),
      h("span", "queue-line", null, [h("span", "queue-agent" + (you ? " is-you" : ""), null, [who]), ...badges]),
      h("span", "queue-preview", null, [preview(c.last_message)]),
    ];
  };
  const tickQueue = () => {
    for (const [id, it] of qItems) {
      const c = S.queue.items.get(id);
      if (!c) continue;
      let text, late = false;
      if (c.state === "waiting") {
        const waited = (Date.now() - c._since) / 1000;
        text = S.fmtDuration(waited);
        late = waited > S.queue.timeout;
      } else {
        // Claimed: how long the shopper waited for a person, which no longer grows.
        const waited = (Date.parse(c.claimed_at) - Date.parse(c.since)) / 1000;
        text = isFinite(waited) ? "waited " + S.fmtDuration(waited) : "";
      }
      const wait = it.li.querySelector(".queue-wait");
      if (wait.textContent !== text) wait.textContent = text;
      it.li.classList.toggle("overdue", late);
    }
  };
  const renderQueue = () => {
    const rank = (c) => (c.state === "waiting" ? 0 : 1);
    const list = [...S.queue.items.values()].sort((a, b) => rank(a) - rank(b) || a._since - b._since);
    const keep = new Set(list.map((c) => c.conversation_id));
    for (const [id, it] of qItems) if (!keep.has(id)) (it.li.remove(), qItems.delete(id));
    list.forEach((c, i) => {
      const id = c.conversation_id;
      let it = qItems.get(id);
      if (!it) {
        const btn = h("button", "queue-open", { type: "button" });
        btn.addEventListener("click", () => select(id));
        it = { li: h("li", "queue-item", { "data-id": id }, [btn]), btn, sig: "" };
        qItems.set(id, it);
      }
      // Rebuild an entry only when it changed: the list is a live region.
      const sig = JSON.stringify([c.state, c.reason, c.agent, c.contact_email, c.unavailable, c.ended, c.last_message]);
      if (sig !== it.sig) {
        it.sig = sig;
        it.btn.replaceChildren(...queueContent(c));
        it.li.dataset.state = c.state;
      }
      if (queueEl.children[i] !== it.li) queueEl.insertBefore(it.li, queueEl.children[i] || null);
    });
    $(".queue-empty").hidden = list.length > 0;
    markSelected();
    tickQueue();
  };

  // ---------------------------------------------------------------- live with the bot
  const renderLive = (list) => {
    const focused = document.activeElement && document.activeElement.closest(".live-item");
    const focusId = focused && focused.dataset.id;
    liveEl.replaceChildren(
      ...list.map((c) => {
        const btn = h("button", "live-open", { type: "button" }, [
          h("span", "queue-line", null, [
            h("span", "live-state", null, [c.state === "closed" ? "Closed" : "With the bot"]),
            c.ended ? h("span", "badge badge-ended", null, ["left the chat"]) : null,
            h("span", "live-time", null, [c.last_message ? S.fmtTime(c.last_message.ts) : ""]),
          ]),
          h("span", "queue-preview", null, [preview(c.last_message)]),
        ]);
        btn.addEventListener("click", () => select(c.conversation_id));
        return h("li", "live-item", { "data-id": c.conversation_id }, [btn]);
      }),
    );
    $(".live-empty").hidden = list.length > 0;
    markSelected();
    if (focusId) {
      const again = liveEl.querySelector(`.live-item[data-id="${CSS.escape(focusId)}"] button`);
      if (again) again.focus();
    }
  };
  let liveTimer = 0;
  const loadLive = async () => {
    clearTimeout(liveTimer);
    try {
      renderLive((await S.api("GET", "/api/staff/live")).conversations);
    } catch (e) {
      /* kept as it was; the next round tries again */
    }
    liveTimer = setTimeout(loadLive, 15000);
  };

  const markSelected = () => {
    for (const li of document.querySelectorAll(".queue-item, .live-item")) {
      const on = !!cur && li.dataset.id === cur.id;
      li.classList.toggle("selected", on);
      const b = li.querySelector("button");
      if (on) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  };

  // ---------------------------------------------------------------- open a conversation
  // The hash is the one way in: a click sets it, a reload or the back button reopens it.
  const select = (id) => {
    if (cur && cur.id === id) return reply.disabled ? null : reply.focus();
    location.hash = "c=" + encodeURIComponent(id);
  };
  const fromHash = () => {
    const m = /^#c=([A-Za-z0-9_%-]{1,200})$/.exec(location.hash);
    const id = m ? decodeURIComponent(m[1]) : null;
    if (id && /^[A-Za-z0-9_-]{1,64}$/.test(id)) return open(id);
    if (!cur) return;
    leave();
    convEl.hidden = true;
    $(".conv-none").hidden = false;
    showSuggestionsEmpty("Suggestions for the shopper's latest message appear here.");
    say(sugStatus, "");
    markSelected();
    S.send({ type: "watch", conversation_id: null });
  };

  const open = (id) => {
    if (cur && cur.id === id) return;
    leave();
    cur = { id, summary: S.queue.items.get(id) || null, order: null, seen: new Map(), newestShopper: null };
    cur.sugSeq = cur.sugApplied = 0;
    $(".conv-none").hidden = true;
    convEl.hidden = false;
    $("#conv-title").textContent = "Conversation " + id.replace(/^web-/, "").slice(0, 8);
    transcript.replaceChildren();
    setShopperTyping(false);
    say(actionError, "");
    say(replyError, "");
    showSuggestionsEmpty("Looking for suggestions…");
    restoreDraft();
    renderSummary();
    markSelected();
    S.send({ type: "watch", conversation_id: id });
    loadConversation();
  };
  const leave = () => {
    if (!cur) return;
    typing(false);
    saveDraft();
    cur = null;
  };

  const loadConversation = async () => {
    const c = cur;
    let r;
    try {
      r = await S.api("GET", path(c.id));
    } catch (e) {
      if (cur === c) say(actionError, e.message);
      return;
    }
    S.queue.apply(r.conversation); // fresher than the list if a frame was missed
    if (cur !== c) return; // the agent opened another one meanwhile
    c.summary = S.stamp(r.conversation);
    c.order = r.verified_order;
    const before = c.newestShopper;
    const follow = nearBottom();
    r.messages.forEach(addMessage);
    renderSummary();
    scrollDown(follow || before == null);
    if (!c.loaded || c.newestShopper !== before) loadSuggestions();
    c.loaded = true;
  };

  // ---------------------------------------------------------------- transcript
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const scrollDown = (force) => {
    if (force) scroller.scrollTop = scroller.scrollHeight;
  };
  const msgEl = (m, cls, who, body) =>
    h("div", "msg " + cls, { "data-id": String(m.id) }, [
      h("div", "msg-meta", null, [
        who ? h("span", "msg-who", null, [who]) : null,
        h("time", "msg-time", { datetime: m.ts }, [S.fmtTime(m.ts)]),
      ]),
      ...body,
    ]);
  const USE = { unchanged: "Suggestion sent unchanged", edited: "Suggestion edited" };

  const messageEl = (m) => {
    const custom = m.custom || {};
    const buttons = (m.buttons || []).filter((b) => b && b.title);
    // Bot markers (no text) are not something the shopper read: a small line, or nothing.
    const marker = (text) => msgEl(m, "msg-system msg-marker", null, [h("div", "msg-text", null, [text])]);
    if (m.text == null || m.text === "") {
      if (custom.handoff) {
        const why = S.reason(custom.handoff.reason);
        return marker(why ? "Handed off: " + lcFirst(why) : "Handed off");
      }
      if (custom.fallback) return marker("Bot didn't know");
      if (!buttons.length) return null;
    }
    const role = ROLE[m.role] ? m.role : "system";
    let who = ROLE[role];
    if (role === "agent") who = (m.author || "Agent") + (S.agent && m.author_id === S.agent.id ? " (you)" : "");
    const body = [];
    if (m.text) body.push(h("div", "msg-text", null, [m.text]));
    if (buttons.length) {
      const chips = buttons.map((b) => h("span", "msg-button", null, [b.title]));
      body.push(h("div", "msg-buttons", null, [h("span", "sr-only", null, ["Buttons offered: "]), ...chips]));
    }
    if (m.feedback) body.push(h("div", "msg-note", null, ["Shopper: " + (m.feedback === "up" ? "helpful" : "not helpful")]));
    if (role === "agent" && USE[m.suggestion_use]) body.push(h("div", "msg-note", null, [USE[m.suggestion_use]]));
    return msgEl(m, "msg-" + role, who, body);
  };

  // Adds a message once (the socket and our own POST may both bring it), in id order.
  // Returns true when it is a newer shopper message than any we had.
  const addMessage = (m) => {
    const c = cur;
    if (!c || !m || typeof m.id !== "number" || c.seen.has(m.id)) return false;
    const el = messageEl(m);
    c.seen.set(m.id, el);
    if (el) {
      let after = transcript.lastElementChild;
      while (after && Number(after.dataset.id) > m.id) after = after.previousElementSibling;
      transcript.insertBefore(el, after ? after.nextSibling : transcript.firstChild);
    }
    if (m.role === "shopper") {
      setShopperTyping(false);
      if (c.newestShopper == null || m.id > c.newestShopper) {
        c.newestShopper = m.id;
        return true;
      }
    }
    return false;
  };

  let typingTimer = 0;
  const setShopperTyping = (on) => {
    clearTimeout(typingTimer);
    const follow = nearBottom();
    typingEl.hidden = !on;
    if (on) {
      scrollDown(follow);
      typingTimer = setTimeout(() => setShopperTyping(false), 6000); // a lost "off" frame
    }
  };

  // ---------------------------------------------------------------- summary and actions
  const STATE = { waiting: "Waiting for an agent", bot: "With the bot", closed: "Closed" };
  const bannerWait = h("span", "banner-wait");
  const holder = (s) => (s.agent && s.agent.name) || "Another agent";
  const renderSummary = () => {
    const s = cur && cur.summary;
    const you = mine(s);
    const parts = [];
    const follow = nearBottom(); // a taller banner must not push the last message out of view
    if (s) {
      let state = STATE[s.state] || s.state;
      if (s.state === "claimed") state = you ? "You have this conversation" : holder(s) + " has this conversation";
      parts.push(h("strong", "banner-state", null, [state]));
      if (s.reason) parts.push(h("span", "banner-reason", null, ["Reason: " + S.reason(s.reason)]));
      if (s.since) parts.push(bannerWait);
      if (s.state === "bot" || s.state === "closed") parts.push(h("span", null, null, ["Read-only: take over to reply."]));
      if (s.unavailable) parts.push(h("span", "banner-unavailable", null, ["The shopper was told nobody is free."]));
      if (s.contact_email) parts.push(h("span", "banner-contact", null, ["Contact e-mail: ", S.mailLink(s.contact_email)]));
      if (s.ended) parts.push(h("strong", "banner-ended", null, ["The shopper started a new chat: they no longer see this."]));
    }
    banner.replaceChildren(...parts);
    banner.className = "handoff-banner" + (s ? " state-" + s.state : "");
    banner.classList.toggle("is-mine", you);
    banner.classList.toggle("is-ended", !!(s && s.ended));
    tickBanner();
    scrollDown(follow);

    const vo = $(".verified-order");
    vo.hidden = !(cur && cur.order);
    vo.textContent = cur && cur.order ? "Verified order " + cur.order : "";

    // Shown even while a colleague has it: the server then says who (409), and a stale
    // screen can never make the button lie.
    claimBtn.hidden = !s || you;
    claimBtn.textContent = s && (s.state === "bot" || s.state === "closed") ? "Take over" : "Claim";
    releaseBtn.hidden = !you;
    closeBtn.hidden = !(you || (s && s.state === "waiting"));

    const ok = canReply();
    reply.disabled = !ok;
    sendBtn.disabled = !ok;
    note.hidden = ok;
    note.textContent = !s
      ? ""
      : s.ended
        ? "The shopper left this chat" + (s.contact_email ? "; reply by e-mail." : ".")
        : s.state === "claimed" && !you
          ? holder(s) + " has this conversation."
          : "Claim this conversation to reply";
    for (const b of sugEl.querySelectorAll("button.use, button.use-order")) b.disabled = !ok;
  };
  const tickBanner = () => {
    const s = cur && cur.summary;
    if (!s || !s.since) return;
    if (s.state === "waiting") {
      const waited = (Date.now() - s._since) / 1000;
      bannerWait.textContent = "Waiting " + S.fmtDuration(waited);
      bannerWait.classList.toggle("late", waited > S.queue.timeout);
    } else {
      const w = (Date.parse(s.claimed_at) - Date.parse(s.since)) / 1000;
      bannerWait.textContent = isFinite(w) ? "Waited " + S.fmtDuration(w) + " before it was claimed" : "";
      bannerWait.classList.remove("late");
    }
  };

  const say = (el, text) => (el.textContent = text || "");
  const act = async (what) => {
    const c = cur;
    say(actionError, "");
    const buttons = [claimBtn, releaseBtn, closeBtn];
    buttons.forEach((b) => (b.disabled = true));
    try {
      const r = await S.api("POST", path(c.id, what));
      S.queue.apply(r.conversation);
      if (cur === c) {
        c.summary = S.stamp(r.conversation);
        renderSummary();
        if (what === "claim" && !reply.disabled) reply.focus();
      }
      loadLive();
    } catch (e) {
      if (cur === c) {
        say(actionError, e.message);
        loadConversation(); // whoever has it now, in the banner
      }
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  claimBtn.addEventListener("click", () => act("claim"));
  releaseBtn.addEventListener("click", () => act("release"));
  closeBtn.addEventListener("click", () => act("close"));

  // ---------------------------------------------------------------- reply box
  // The draft of each conversation lives in sessionStorage: a reload keeps an unsent reply.
  // `suggestion`/`source`: the suggestion text last put into the box and where it came
  // from (the server compares it with what is sent: unchanged / edited). `clientId` is
  // kept after a failed send, so sending the same text again cannot post it twice.
  let draft = {};
  const restoreDraft = () => {
    draft = (cur && S.load("draft:" + cur.id)) || {};
    reply.value = draft.text || "";
    autosize();
  };
  const saveDraft = () => {
    if (!cur) return;
    draft.text = reply.value;
    if (!reply.value.trim()) draft = {};
    S.save("draft:" + cur.id, draft.text ? draft : null);
  };
  const autosize = () => {
    reply.style.height = "auto";
    reply.style.height = Math.min(Math.max(reply.scrollHeight + 2, 72), 240) + "px";
  };

  // The shopper sees "… is typing": one `on` a second at most, `off` after 3 s idle.
  let typingOn = false;
  let lastOn = 0;
  let idleTimer = 0;
  const typing = (on) => {
    clearTimeout(idleTimer);
    if (!cur) return;
    if (on) {
      if (Date.now() - lastOn >= 1000 && S.send({ type: "typing", conversation_id: cur.id, on: true })) {
        lastOn = Date.now();
        typingOn = true;
      }
      idleTimer = setTimeout(() => typing(false), 3000);
    } else if (typingOn) {
      typingOn = false;
      lastOn = 0;
      S.send({ type: "typing", conversation_id: cur.id, on: false });
    }
  };

  reply.addEventListener("input", () => {
    autosize();
    saveDraft();
    say(replyError, "");
    if (canReply()) typing(!!reply.value.trim());
  });
  reply.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey) {
      e.preventDefault();
      sendReply();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sendReply();
  });

  let sending = false;
  const sendReply = async () => {
    const c = cur;
    const text = reply.value.trim();
    if (!c || sending || !canReply()) return;
    if (!text) return say(replyError, "Write a reply first.");
    if (!draft.clientId || draft.clientText !== text) {
      draft.clientId = S.newId("a");
      draft.clientText = text;
    }
    saveDraft();
    typing(false);
    sending = true;
    sendBtn.disabled = true;
    reply.readOnly = true;
    sendBtn.textContent = "Sending…";
    try {
      const r = await S.api("POST", path(c.id, "messages"), {
        client_id: draft.clientId,
        text,
        suggestion: draft.suggestion || null,
        suggestion_source: draft.suggestion ? draft.source || null : null,
      });
      if (cur === c) {
        reply.value = "";
        draft = {};
        saveDraft();
        autosize();
        addMessage(r.message);
        scrollDown(true);
      } else S.save("draft:" + c.id, null);
    } catch (e) {
      // The text stays in the box (and in the draft) to send again.
      if (cur === c) say(replyError, e.status === 0 ? "Not sent: " + e.message : e.message);
      if (e.status === 409 && cur === c) loadConversation();
    } finally {
      sending = false;
      reply.readOnly = false;
      sendBtn.textContent = "Send";
      renderSummary();
      if (cur === c && !reply.disabled) reply.focus();
    }
  };

  // Puts a suggestion into the box for editing (never sends): replaces an empty box,
  // else goes after a blank line.
  const useText = (text, source) => {
    if (!canReply() || !text) return;
    const before = reply.value.replace(/\s+$/, "");
    reply.value = before ? before + "\n\n" + text : text;
    draft.suggestion = text;
    draft.source = source;
    saveDraft();
    autosize();
    reply.focus();
    reply.setSelectionRange(reply.value.length, reply.value.length);
    reply.scrollTop = reply.scrollHeight;
  };

  // ---------------------------------------------------------------- suggestions (right)
  const showSuggestionsEmpty = (text) => {
    sugEl.replaceChildren(h("p", "empty", null, [text]));
    sugEl.dataset.for = "";
  };
  // Each request is numbered. An answer is dropped when it is for an older shopper message
  // than the newest we know, or when a later request's answer is already on screen: a
  // suggestion for an old message must never replace one for the new message.
  const loadSuggestions = async () => {
    const c = cur;
    const seq = ++c.sugSeq;
    if (Number(sugEl.dataset.for || 0) !== (c.newestShopper || 0)) showSuggestionsEmpty("Looking for suggestions…");
    say(sugStatus, "Looking for suggestions…");
    let r;
    try {
      r = await S.api("GET", path(c.id, "suggestions"));
    } catch (e) {
      if (cur === c && seq === c.sugSeq) say(sugStatus, "No suggestions: " + e.message);
      return;
    }
    if (cur !== c || seq < c.sugApplied) return;
    const known = c.newestShopper;
    if (known != null && (r.message_id == null || r.message_id < known)) return;
    if (r.message_id != null && (known == null || r.message_id > known)) c.newestShopper = r.message_id;
    c.sugApplied = seq;
    if (r.order && r.order.order_number && !r.order.error && c.order !== r.order.order_number) {
      c.order = r.order.order_number; // verified since the transcript was loaded
      renderSummary();
    }
    renderSuggestions(r);
    if (seq === c.sugSeq) say(sugStatus, (r.faq.length ? S.plural(r.faq.length, "suggestion") : "No FAQ suggestion") + " for the latest message");
  };

  const renderSuggestions = (r) => {
    const ok = canReply();
    const kids = [];
    if (r.text) kids.push(h("p", "suggestion-for", null, [h("span", "muted", null, ["For: "]), "“" + r.text + "”"]));
    else kids.push(h("p", "empty", null, ["The shopper hasn't written anything yet."]));
    if (r.faq.length) {
      if (!r.confident) kids.push(h("p", "low-confidence", null, ["Low confidence — check before using"]));
      kids.push(S.suggestionList(r.faq, useText, !ok));
    } else if (r.text) kids.push(h("p", "empty", null, ["The FAQ has nothing close to this message."]));
    if (r.order) kids.push(S.orderCard(r.order, useText, !ok));
    sugEl.replaceChildren(...kids);
    sugEl.dataset.for = String(r.message_id || 0);
  };

  // ---------------------------------------------------------------- live events
  S.onFrame((f) => {
    switch (f.type) {
      case "ready":
        if (cur) {
          S.send({ type: "watch", conversation_id: cur.id });
          if (f.reconnected) loadConversation(); // messages sent while we were away
        }
        if (f.reconnected) loadLive();
        break;
      case "message":
        if (cur && f.conversation_id === cur.id) {
          const follow = nearBottom();
          const newer = addMessage(f.message);
          const own = f.message && f.message.role === "agent" && S.agent && f.message.author_id === S.agent.id;
          scrollDown(follow || own);
          if (newer) loadSuggestions();
        }
        break;
      case "typing":
        if (cur && f.conversation_id === cur.id && f.who === "shopper") setShopperTyping(!!f.on);
        break;
      case "queue": {
        const c = f.conversation;
        if (cur && c && c.conversation_id === cur.id) {
          cur.summary = S.stamp(c);
          renderSummary();
        }
        if (c && (c.state === "bot" || c.state === "closed")) loadLive(); // back with the bot
        break;
      }
      case "closed":
        setShopperTyping(false);
        typingOn = false;
        break;
    }
  });
  S.queue.listeners.add(renderQueue);
  S.onTick(() => {
    tickQueue();
    tickBanner();
  });
  window.addEventListener("hashchange", fromHash);
  window.addEventListener("pagehide", () => {
    typing(false);
    saveDraft();
  });

  S.boot().then(() => {
    renderQueue();
    fromHash();
    loadLive();
  }, () => {});
})();
