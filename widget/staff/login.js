/* Log in: POST /api/staff/login, then on to /staff or to a safe `?next=`. */
(() => {
  "use strict";
  const S = window.Staff;
  const form = S.$("#login-form");
  const email = S.$("#email");
  const password = S.$("#password");
  const submit = S.$("#login");
  const error = S.$(".login-error");

  // Only a path of this console on this origin: `?next=//evil.example` or `/\evil.example`
  // resolve to another origin and are ignored, so the login page is no open redirect.
  const target = () => {
    const next = new URLSearchParams(location.search).get("next");
    if (next && next.startsWith("/")) {
      try {
        const u = new URL(next, location.origin);
        if (u.origin === location.origin && /^\/staff(\/|$|\?|#)/.test(u.pathname + u.search + u.hash) && !u.pathname.startsWith("/staff/login"))
          return u.pathname + u.search + u.hash;
      } catch (e) {
        /* not a URL: the default */
      }
    }
    // The server's redirect to this page keeps the fragment: "#c=<id>" reopens that chat.
    return "/staff" + (/^#c=[\w%-]{1,200}$/.test(location.hash) ? location.hash : "");
  };
  const say = (text) => (error.textContent = text || "");

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!email.value.trim() || !password.value) {
      say("Enter your e-mail address and your password.");
      (email.value.trim() ? password : email).focus();
      return;
    }
    say("");
    submit.disabled = true;
    submit.textContent = "Logging in…";
    try {
      await S.api("POST", "/api/staff/login", { email: email.value.trim(), password: password.value }, { login: false });
      location.replace(target());
      return;
    } catch (e) {
      if (e.status === 429) {
        const after = e.detail && e.detail.retry_after;
        const min = Math.max(1, Math.ceil((after || 0) / 60));
        say(/\d/.test(e.message) ? e.message : `Too many wrong passwords. Try again in ${S.plural(min, "minute")}.`);
      } else if (e.status === 401) {
        say(e.message || "Wrong e-mail address or password.");
        password.select();
      } else say(e.message);
    }
    submit.disabled = false;
    submit.textContent = "Log in";
  });

  // Already logged in (another tab, or the back button): straight to the console.
  S.api("GET", "/api/staff/me", undefined, { login: false }).then(
    () => location.replace(target()),
    () => {},
  );
})();
