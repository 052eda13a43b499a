/* E-mail answers: paste a customer's e-mail, get FAQ answers for each question it asks, the
 * order's facts when it names one, and a draft reply to edit and copy. Nothing is sent. */
(() => {
  "use strict";
  const S = window.Staff;
  const { h, $ } = S;

  const input = $("#email-text");
  const analyse = $("#analyse");
  const status = $(".email-status");
  const error = $(".form-error");
  const results = $(".email-results");
  const draft = $("#draft");
  const copyBtn = $("#copy-draft");
  const copied = $(".copy-status");

  // A reload keeps the pasted e-mail and the edited draft (this tab only).
  input.value = S.load("email:text") || "";
  draft.value = S.load("email:draft") || "";
  input.addEventListener("input", () => S.save("email:text", input.value || null));
  draft.addEventListener("input", () => S.save("email:draft", draft.value || null));

  // Where each question's answer stands in the draft: the FAQ answer the server pasted, or
  // its "[No FAQ answer for: "…"]" placeholder. "Use" replaces that paragraph; when it is
  // gone (edited away) or shared with another question, the answer goes in after it or
  // before the sign-off.
  let anchors = [];
  const oneLine = (t) => t.split(/\s+/).filter(Boolean).join(" ");
  const findAnchors = (questions, text) => {
    const paras = text.split(/\n\n/);
    return questions.map((q) => {
      const best = q.suggestions[0];
      if (q.answered && best && text.includes(best.answer)) return best.answer;
      const quoted = '"' + oneLine(q.text) + '"';
      return paras.find((p) => p.startsWith("[") && p.includes(quoted)) || null;
    });
  };
  const insertAt = (i, answer) => {
    const text = draft.value;
    const anchor = anchors[i];
    const at = anchor ? text.indexOf(anchor) : -1;
    const shared = anchor && anchors.some((a, j) => j !== i && a === anchor);
    let start, next;
    if (at >= 0 && !shared) {
      start = at;
      next = text.slice(0, at) + answer + text.slice(at + anchor.length);
    } else {
      let end = at >= 0 ? at + anchor.length : text.lastIndexOf("\n\nKind regards,");
      if (end < 0) end = text.replace(/\s+$/, "").length;
      start = end ? end + 2 : 0;
      next = text.slice(0, end) + (end ? "\n\n" : "") + answer + text.slice(end);
    }
    if (!shared) anchors[i] = answer;
    draft.value = next;
    S.save("email:draft", next);
    draft.focus();
    draft.setSelectionRange(start, start + answer.length); // shows what went in
  };
  const appendBeforeSignoff = (text) => {
    anchors.push(null);
    insertAt(anchors.length - 1, text);
    anchors.pop();
  };

  const render = (r) => {
    anchors = findAnchors(r.questions, r.draft);
    const blocks = r.questions.map((q, i) => {
      const block = h("section", "email-question", { "aria-label": "Question " + (i + 1) }, [
        h("p", "q-text", null, [h("span", "sr-only", null, ["Question " + (i + 1) + ": "]), "“" + q.text + "”"]),
      ]);
      if (!q.answered) block.append(h("p", "not-answered", null, ["Not answered by the FAQ — the draft marks it for you"]));
      if (q.suggestions.length) block.append(S.suggestionList(q.suggestions, (answer) => insertAt(i, answer)));
      else block.append(h("p", "empty", null, ["No FAQ entry comes close."]));
      return block;
    });
    if (!blocks.length) blocks.push(h("p", "empty", null, ["No question found in this e-mail: write the reply yourself."]));
    // The order first: it is the context every answer below is read in.
    if (r.order) blocks.unshift(S.orderCard(r.order, (sentence) => appendBeforeSignoff(sentence)));
    results.replaceChildren(...blocks);
    draft.value = r.draft;
    S.save("email:draft", r.draft);
    status.textContent = r.questions.length ? S.plural(r.questions.length, "question") + " found" : "No question found";
  };

  let seq = 0;
  const run = async () => {
    const text = input.value;
    error.textContent = "";
    if (!text.trim()) {
      status.textContent = "";
      error.textContent = "Paste the customer's e-mail first, then press “Find answers”.";
      input.focus();
      return;
    }
    const mine = ++seq;
    analyse.disabled = true;
    status.textContent = "Reading the e-mail…";
    try {
      const r = await S.api("POST", "/api/staff/suggest", { text });
      if (mine === seq) render(r);
    } catch (e) {
      if (mine === seq) {
        status.textContent = "";
        error.textContent = e.message;
      }
    } finally {
      if (mine === seq) analyse.disabled = false;
    }
  };
  analyse.addEventListener("click", run);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });

  let copiedTimer = 0;
  copyBtn.addEventListener("click", async () => {
    clearTimeout(copiedTimer);
    if (!draft.value.trim()) {
      copied.textContent = "The draft is empty.";
    } else {
      const ok = await S.copy(draft.value, draft);
      copied.textContent = ok ? "Copied" : "Selected: press Ctrl+C (⌘+C) to copy";
    }
    copiedTimer = setTimeout(() => (copied.textContent = ""), 4000);
  });

  S.boot().catch(() => {});
})();
