/* Insights: big numbers, four small charts drawn as inline SVG (createElementNS, no
 * library), and the questions the bot could not answer, with a YAML line to copy into the
 * closest FAQ entry. Every chart has a <title>, a <desc> with its numbers, and per-day
 * also a visually hidden table. */
(() => {
  "use strict";
  const S = window.Staff;
  const { h, $ } = S;
  const NS = "http://www.w3.org/2000/svg";

  const daysSel = $("#days");
  const status = $(".insights-status");
  const error = $(".form-error");
  const tilesEl = $(".tiles");
  const chartsEl = $(".charts");
  const unansweredEl = $(".unanswered");

  const svg = (tag, attrs, kids) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    if (kids) e.append(...kids);
    return e;
  };
  let uid = 0;
  // An <svg class="chart"> whose accessible name is its <title> and description its <desc>.
  const chartSvg = (name, title, desc, w, hgt) => {
    const id = "chart-" + ++uid;
    return svg(
      "svg",
      {
        class: "chart",
        "data-chart": name,
        viewBox: `0 0 ${w} ${hgt}`,
        role: "img",
        "aria-labelledby": id + "-t",
        "aria-describedby": id + "-d",
      },
      [svg("title", { id: id + "-t" }, [title]), svg("desc", { id: id + "-d" }, [desc])],
    );
  };
  const figure = (title, body, extra, wide) =>
    h("figure", "panel" + (wide ? " chart-wide" : ""), null, [h("h2", null, null, [title]), body, ...(extra || [])]);
  const legend = (items) =>
    h("ul", "legend", { "aria-hidden": "true" }, items.map(([cls, text]) => h("li", null, null, [h("span", cls), text])));
  const nice = (n) => {
    if (n <= 5) return Math.max(1, Math.ceil(n));
    const p = 10 ** Math.floor(Math.log10(n));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= n);
  };

  // Conversations per day with the day's hand-offs drawn inside the same bar.
  const perDay = (days) => {
    const total = days.reduce((a, d) => a + d.conversations, 0);
    const hand = days.reduce((a, d) => a + d.handoffs, 0);
    const title = "Conversations per day";
    if (!total && !hand) return figure(title, h("p", "empty", null, ["No conversations in this period."]), null, true);
    const W = 960, H = 220, L = 36, R = 8, T = 10, B = 24;
    const max = nice(Math.max(...days.map((d) => Math.max(d.conversations, d.handoffs))));
    const pw = W - L - R, ph = H - T - B, bw = pw / days.length;
    const y = (v) => T + ph - (v / max) * ph;
    const busiest = days.reduce((a, d) => (d.conversations > a.conversations ? d : a), days[0]);
    const chart = chartSvg(
      "per-day",
      "Conversations and hand-offs per day",
      `${total} conversations and ${hand} hand-offs over ${days.length} days; ` +
        `busiest day ${S.fmtDate(busiest.date)} with ${busiest.conversations}.`,
      W,
      H,
    );
    for (const v of [0, max / 2, max]) {
      chart.append(
        svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
        svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, [String(Math.round(v * 10) / 10)]),
      );
    }
    const every = Math.ceil(days.length / 10);
    days.forEach((d, i) => {
      const x = L + i * bw;
      const tip = `${S.fmtDate(d.date)}: ${S.plural(d.conversations, "conversation")}, ${S.plural(d.handoffs, "hand-off")}`;
      const g = svg("g", null, [svg("title", null, [tip])]);
      // Hand-offs are a narrower, darker bar inside the day's conversations bar.
      const bar = (cls, v, width) =>
        svg("rect", { class: cls, x: x + (bw - width) / 2, y: y(v), width, height: y(0) - y(v) });
      g.append(bar("s-conv", d.conversations, Math.max(1, bw * 0.78)));
      if (d.handoffs) g.append(bar("s-hand", d.handoffs, Math.max(1, bw * 0.4)));
      chart.append(g);
      if (i % every === 0) chart.append(svg("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, [S.fmtDate(d.date)]));
    });
    // The same numbers for screen readers, as a table.
    const cell = (tag, text, scope) => h(tag, null, scope ? { scope } : null, [String(text)]);
    const row = (d) => h("tr", null, null, [cell("th", S.fmtDate(d.date), "row"), cell("td", d.conversations), cell("td", d.handoffs)]);
    const table = h("table", "sr-only", null, [
      h("caption", null, null, ["Conversations and hand-offs per day"]),
      h("thead", null, null, [h("tr", null, null, ["Day", "Conversations", "Hand-offs"].map((t) => cell("th", t, "col")))]),
      h("tbody", null, null, days.map(row)),
    ]);
    const key = legend([["s-conv", "Conversations"], ["s-hand", "Hand-offs"]]);
    return figure(title, chart, [key, table], true);
  };

  // Horizontal bars, one row per [label, value, class]; `of` adds each row's share.
  const hbars = (name, title, rows, emptyText, of) => {
    const total = rows.reduce((a, r) => a + r[1], 0);
    if (!total) return figure(title, h("p", "empty", null, [emptyText]));
    const share = (v) => (of ? " (" + Math.round((v / total) * 100) + "%)" : "");
    const W = 420, L = 150, R = 70, RH = 28;
    const H = rows.length * RH + 6;
    const max = Math.max(...rows.map((r) => r[1]));
    const chart = chartSvg(name, title, rows.map((r) => `${r[0]}: ${r[1]}${share(r[1])}`).join("; ") + ".", W, H);
    rows.forEach(([label, value, cls], i) => {
      const y = 4 + i * RH;
      const w = Math.max(value ? 2 : 0, ((W - L - R) * value) / max);
      const short = label.length > 24 ? label.slice(0, 23) + "…" : label;
      const tip = svg("title", null, [`${label}: ${value}${share(value)}`]);
      chart.append(
        svg("text", { class: "label", x: L - 8, y: y + 17, "text-anchor": "end" }, [short]),
        svg("rect", { class: cls, x: L, y: y + 4, width: w, height: RH - 10, rx: 2 }, [tip]),
        svg("text", { x: L + w + 6, y: y + 17 }, [String(value) + share(value)]),
      );
    });
    return figure(title, chart);
  };

  const tile = (label, value, sub) =>
    h("div", "tile", null, [
      h("div", "tile-value", null, [value]),
      h("div", "tile-label", null, [label]),
      sub ? h("div", "tile-sub", null, [sub]) : null,
    ]);

  const render = (r) => {
    const t = r.totals || {};
    const w = r.wait || {};
    $(".insights-range").textContent = r.from && r.to ? S.fmtDate(r.from) + " – " + S.fmtDate(r.to) : "";
    const resolved = t.conversations ? `${t.resolved_by_bot} of ${t.conversations}` : null;
    const fallbacks = t.shopper_messages ? `${t.fallbacks} “didn't know” of ${S.plural(t.shopper_messages, "message")}` : null;
    const claims = `${w.claimed || 0} claimed · ${w.never_claimed || 0} never claimed`;
    tilesEl.replaceChildren(
      tile("Conversations", String(t.conversations || 0), S.plural(t.handoffs || 0, "hand-off")),
      tile("Resolved by the bot", S.pct(t.resolved_by_bot_share), resolved),
      tile("Fallback rate", S.pct(t.fallback_rate), fallbacks),
      tile("Median wait until claimed", S.fmtDuration(w.claimed_median_seconds), claims),
      tile("Median wait for the first agent reply", S.fmtDuration(w.first_reply_median_seconds)),
    );
    const f = r.feedback || {};
    const u = r.suggestion_use || {};
    const reasons = (r.handoffs_by_reason || []).map((x) => [S.reason(x.reason), x.count, "s-reason"]);
    const thumbs = [
      ["Helpful", f.up || 0, "s-up"],
      ["Not helpful", f.down || 0, "s-down"],
    ];
    const uses = [
      ["Suggestion unchanged", u.unchanged || 0, "s-unchanged"],
      ["Suggestion edited", u.edited || 0, "s-edited"],
      ["Typed from scratch", u.none || 0, "s-none"],
    ];
    chartsEl.replaceChildren(
      perDay(r.per_day || []),
      hbars("handoffs-by-reason", "Hand-offs by reason", reasons, "No hand-offs in this period."),
      hbars("feedback", "Shopper feedback on bot answers", thumbs, "No thumbs up or down in this period.", true),
      hbars("suggestion-use", "Agent replies and suggestions", uses, "No agent replies in this period.", true),
    );
    renderUnanswered(r.unanswered || []);
  };

  const renderUnanswered = (groups) => {
    if (!groups.length) {
      unansweredEl.replaceChildren(h("li", "empty", null, ["No unanswered questions in this period."]));
      return;
    }
    unansweredEl.replaceChildren(
      ...groups.map((g) => {
        const c = g.closest;
        const yaml = h("code", "yaml", null, [g.yaml || ""]);
        const done = h("span", "copy-status", { role: "status" });
        const copy = S.button("copy-yaml", "Copy YAML line");
        copy.addEventListener("click", async () => {
          done.textContent = (await S.copy(g.yaml || "", yaml)) ? "Copied" : "Selected: press Ctrl+C to copy";
          setTimeout(() => (done.textContent = ""), 4000);
        });
        const code = (t) => h("code", null, null, [t]);
        const hint = c
          ? h("span", "hint", null, ["paste under ", code("paraphrases:"), " of ", code(c.faq_id), " in ", code(c.file)])
          : h("span", "hint", null, ["No FAQ entry comes close: this may need a new entry."]);
        return h("li", "unanswered-group", null, [
          h("div", "unanswered-head", null, [
            h("span", "unanswered-count", null, [g.count + "×"]),
            h("span", "muted", null, ["asked " + S.plural(g.count, "time") + ", for example:"]),
          ]),
          h("ul", null, null, (g.questions || []).map((q) => h("li", null, null, [q]))),
          c
            ? h("p", "closest", null, [
                "Closest FAQ entry: ",
                h("strong", null, null, [c.question]),
                ` — ${c.section} · ${S.pct(c.score)} · `,
                code(c.file),
              ])
            : null,
          yaml,
          h("div", "row", null, [copy, hint, done]),
        ]);
      }),
    );
  };

  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    error.textContent = "";
    status.textContent = "Loading…";
    try {
      const r = await S.api("GET", "/api/staff/insights?days=" + daysSel.value);
      if (mine !== seq) return;
      render(r);
      status.textContent = "";
    } catch (e) {
      if (mine !== seq) return;
      status.textContent = "";
      error.textContent = "Insights could not be loaded: " + e.message;
    }
  };

  // ?days= keeps the chosen period across reloads and in shared links.
  const asked = new URLSearchParams(location.search).get("days");
  if (["7", "30", "90"].includes(asked)) daysSel.value = asked;
  daysSel.addEventListener("change", () => {
    history.replaceState(null, "", "?days=" + daysSel.value);
    load();
  });
  S.boot().then(load, () => {});
})();
